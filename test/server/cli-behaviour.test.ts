/**
 * How the `scimbridge` command behaves for a person and for a script, as a process: --version,
 * per-command --help, --json errors, config discovery (--config, SCIMBRIDGE_CONFIG,
 * ./scimbridge.yaml) with the database named by commands that write, streamed outputs with no row
 * cap, a reader that goes away (`| head`), and the serve banner on stderr apart from the JSON log.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../db/open.js";
import { syncState } from "../../db/schema.js";
import { AuditLog } from "../../server/observability/audit.js";
import { ROOT, spawnCli, waitForOutput } from "../helpers/cli.js";

const CLI = join(ROOT, "server", "cli.ts");
// tsx by path: `--import tsx` would be looked up from the working directory, which is not the checkout here.
const TSX = pathToFileURL(join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;
const dir = mkdtempSync(join(tmpdir(), "scimbridge-cli-behaviour-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The CLI as a process in `cwd`, with only the given SCIMBRIDGE_CONFIG (never the caller's). */
function cli(args: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const env = { ...process.env, SCIMBRIDGE_CONFIG: "", ...o.env };
  const r = spawnSync(process.execPath, ["--import", TSX, CLI, ...args], { cwd: o.cwd ?? dir, env, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `cmd | head -n 1` through a shell; the CLI's own exit status and stderr. */
function piped(args: string[], config: string) {
  const script = `node --import tsx ${CLI} ${args.join(" ")} --config ${config} 2>${join(dir, "err.txt")} | head -n 1; echo "status \${PIPESTATUS[0]}"`;
  const r = spawnSync("bash", ["-c", script], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  return { stdout: r.stdout, stderr: readFileSync(join(dir, "err.txt"), "utf8") };
}

const yaml = (db: string) => `server: { port: 0 }\nstorage: { file: ${db} }\nlogging: { level: warn }\n`;

describe("version and help", () => {
  it("--version prints the package's version", () => {
    const r = cli(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe((JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version);
  });

  it("every command has its own --help, exit 0", () => {
    for (const [args, expected] of [
      [["token", "create", "--help"], /usage: scimbridge token create \[options\] <name>/],
      [["failures", "--help"], /--ndjson/],
      [["reconcile", "--help"], /--delete-unmanaged/],
      [["config", "schema", "--help"], /JSON Schema/],
    ] as const) {
      const r = cli([...args]);
      expect(r.code, args.join(" ")).toBe(0);
      expect(r.stdout).toMatch(expected);
    }
  });
});

describe("--json errors", () => {
  it("a usage error or a bad config is one JSON object on stderr, nothing on stdout, exit 2", () => {
    const unknown = cli(["status", "--json", "--frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toBe("");
    expect(JSON.parse(unknown.stderr)).toEqual({ error: { message: "unknown option '--frobnicate'", exitCode: 2 } });
    const badCode = cli(["failures", "--code", "sixty-five", "--json"]);
    expect(badCode.code).toBe(2);
    expect((JSON.parse(badCode.stderr) as { error: { message: string } }).error.message).toMatch(/--code .* is invalid\. an LDAP result code/);
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "server: { port: -3 }\n");
    const r = cli(["status", "--json", "--config", bad]);
    expect(r.code).toBe(2);
    const e = JSON.parse(r.stderr) as { error: { message: string; issues: string[] } };
    expect(e.error.message).toContain(bad);
    expect(e.error.issues[0]).toMatch(/^server\.port: /);
  });

  it("config check --json reports an invalid file as data on stdout, exit 2", () => {
    const bad = join(dir, "bad-check.yaml");
    writeFileSync(bad, "server: { port: -3 }\nlogging: { level: loud }\n");
    const r = cli(["config", "check", "--json", "--config", bad]);
    expect(r.code).toBe(2);
    const verdict = JSON.parse(r.stdout) as { valid: boolean; errors: string[] };
    expect(verdict.valid).toBe(false);
    expect(verdict.errors).toEqual([expect.stringMatching(/^server\.port: /), expect.stringMatching(/^logging\.level: /)]);
  });

  it("a runtime failure under --json is JSON too (exit 1)", () => {
    const cfg = join(dir, "nodb.yaml");
    writeFileSync(cfg, yaml(join(dir, "never-created.db")));
    const r = cli(["token", "list", "--json", "--config", cfg]);
    expect(r.code).toBe(1);
    expect((JSON.parse(r.stderr) as { error: { message: string } }).error.message).toMatch(/^no database at .*never-created\.db/);
  });
});

describe("one configuration for every command", () => {
  it("./scimbridge.yaml is found in the working directory; SCIMBRIDGE_CONFIG and --config take precedence; writes name the database", () => {
    const work = join(dir, "work");
    mkdirSync(work);
    writeFileSync(join(work, "scimbridge.yaml"), yaml("./local.db"));
    const created = cli(["token", "create", "okta"], { cwd: work });
    expect(created.code).toBe(0);
    expect(created.stderr).toContain(`created the database ${join(work, "local.db")}, from config ${join(work, "scimbridge.yaml")} (./scimbridge.yaml)`);
    // The same database for the next command, without any flag.
    expect(JSON.parse(cli(["token", "list", "--json"], { cwd: work }).stdout)).toEqual([expect.objectContaining({ name: "okta" })]);

    const other = join(dir, "other.yaml");
    writeFileSync(other, yaml(join(dir, "other.db")));
    const viaEnv = cli(["token", "create", "entra"], { cwd: work, env: { SCIMBRIDGE_CONFIG: other } });
    expect(viaEnv.stderr).toContain(`from config ${other} (SCIMBRIDGE_CONFIG)`);
    const flag = join(dir, "flag.yaml");
    writeFileSync(flag, yaml(join(dir, "flag.db")));
    const viaFlag = cli(["token", "create", "pingone", "--config", flag], { cwd: work, env: { SCIMBRIDGE_CONFIG: other } });
    expect(viaFlag.stderr).toContain(`from config ${flag} (--config)`);
    expect(JSON.parse(cli(["token", "list", "--json"], { cwd: work }).stdout)).toEqual([expect.objectContaining({ name: "okta" })]);
  });

  it("config schema prints a JSON Schema that describes server.tls", () => {
    const r = cli(["config", "schema"]);
    expect(r.code).toBe(0);
    const schema = JSON.parse(r.stdout) as { $schema: string; properties: { server: { properties: { tls: { properties: Record<string, unknown>; required: string[] } } } } };
    expect(schema.$schema).toMatch(/json-schema\.org/);
    expect(Object.keys(schema.properties.server.properties.tls.properties)).toEqual(expect.arrayContaining(["certFile", "keyFile", "caFile", "minVersion", "clients"]));
    expect(schema.properties.server.properties.tls.required).toEqual(["certFile", "keyFile"]);
  });
});

describe("large outputs", () => {
  const db = join(dir, "big.db");
  const cfg = join(dir, "big.yaml");
  const FAILED = 2500;
  beforeAll(async () => {
    writeFileSync(cfg, yaml(db));
    const store = openStore(db);
    try {
      const audit = new AuditLog(store);
      for (let i = 0; i < 30_000; i++) audit.recordScim({ client: "load", method: "POST", resourceType: "User", resourceId: `u${i}`, status: 201 });
      await audit.flush();
      const at = new Date().toISOString();
      for (let i = 0; i < FAILED; i += 500) {
        const rows = Array.from({ length: 500 }, (_, k) => ({ resourceType: "User", resourceId: `u${i + k}`, rule: "people", target: "t", state: "failed", wantedSeq: 1, attempts: 5, lastAttempt: at, lastCode: 65, lastError: "objectClassViolation", updated: at }));
        store.db.insert(syncState).values(rows).run();
      }
    } finally {
      await store.close();
    }
  });

  it("failures --ndjson and --json list every row (no 1,000-row cap)", () => {
    const nd = cli(["failures", "--ndjson", "--config", cfg]);
    expect(nd.code).toBe(0);
    const lines = nd.stdout.trim().split("\n");
    expect(lines).toHaveLength(FAILED);
    expect(new Set(lines.map((l) => (JSON.parse(l) as { id: string }).id)).size).toBe(FAILED);
    const doc = JSON.parse(cli(["failures", "--json", "--config", cfg]).stdout) as { totalResults: number; failures: unknown[] };
    expect(doc.totalResults).toBe(FAILED);
    expect(doc.failures).toHaveLength(FAILED);
  });

  it("audit export | head and failures --ndjson | head end quietly with status 0", () => {
    for (const args of [["audit", "export"], ["failures", "--ndjson"]]) {
      const r = piped(args, cfg);
      expect(r.stdout).toMatch(/^\{.*\}\nstatus 0\n$/);
      expect(r.stderr).toBe("");
    }
  });
});

describe("serve output", () => {
  it("the banner and first token go to stderr; stdout carries only JSON log lines", async () => {
    const cfg = join(dir, "serve.yaml");
    writeFileSync(cfg, `server: { port: 0 }\nstorage: { file: ${join(dir, "serve.db")} }\nlogging: { level: info }\n`);
    const child = spawnCli(["serve", "--config", cfg], { SCIMBRIDGE_CONFIG: "" });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
    try {
      await waitForOutput(child, /"msg":"started"/);
      expect(stderr).toMatch(/scimbridge listening on http:\/\/127\.0\.0\.1:\d+\/scim\/v2/);
      expect(stderr).toMatch(/^ {2}scb_[\w-]{40,}$/m);
      expect(stderr).toContain(`Database: ${join(dir, "serve.db")}`);
      expect(stdout).not.toMatch(/scb_/);
      for (const line of stdout.trim().split("\n")) expect(() => JSON.parse(line) as unknown, line).not.toThrow();
    } finally {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
  });
});
