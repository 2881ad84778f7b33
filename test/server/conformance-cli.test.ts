import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, spawnCli, waitForOutput } from "../helpers/cli.js";
import { descendants, parseXml } from "../helpers/xml.js";
import { conformanceUsageError } from "../../server/conformance/command.js";

const TOKEN = "conformance-cli-token-0123456789";
const dir = mkdtempSync(join(tmpdir(), "scimbridge-conformance-cli-"));
let child: ChildProcess;
let url: string;

// The server runs as its own process: runCli blocks this one while the command runs.
beforeAll(async () => {
  const config = join(dir, "c.yaml");
  writeFileSync(config, `server: { port: 0 }\nstorage: { file: ${join(dir, "db.sqlite")} }\nembeddedDirectory: { enabled: false }\nlogging: { level: silent }\n`);
  child = spawnCli(["serve", "--config", config], { SCIM_TOKEN: TOKEN });
  url = /listening on (\S+)/.exec(await waitForOutput(child, /SCIM_TOKEN accepted/))![1]!;
});
afterAll(() => {
  child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

const lastLine = (stdout: string) => stdout.trimEnd().split("\n").at(-1);

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const s = createServer().listen(0, "127.0.0.1");
  await new Promise((r) => s.once("listening", r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe("scimbridge conformance", () => {
  it("passes every suite against scimbridge (exit 0) with the summary line", () => {
    const r = runCli(["conformance", "--base", url, "--token", TOKEN]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(lastLine(r.stdout)).toMatch(/^\d+ passed, 0 failed, 0 warned, 0 skipped$/);
    for (const suite of ["auth", "rfc", "pingfederate", "pingone", "entra", "okta", "concurrency"]) expect(r.stdout).toContain(`ok   ${suite}.`);
  }, 60_000);

  it("reports failures with the request and response, and exits 1", () => {
    const r = runCli(["conformance", "--base", url.replace(/\/scim\/v2$/, "/nope"), "--token", TOKEN, "--client", "rfc"]);
    expect(r.code).toBe(1);
    expect(lastLine(r.stdout)).toMatch(/^\d+ passed, [1-9]\d* failed, 0 warned, \d+ skipped$/);
    expect(r.stdout).toMatch(/^FAIL rfc\.discovery-serviceproviderconfig: .*\[MUST: https:\/\/.*\]\n {5}request: {2}GET \/ServiceProviderConfig/m);
    expect(r.stdout).toMatch(/^ {5}response: 404 /m);
  });

  it("an unreachable server is one line on stderr and exit 2", async () => {
    const r = runCli(["conformance", "--base", `http://127.0.0.1:${await closedPort()}/scim/v2`, "--token", TOKEN]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^conformance: cannot reach http:\/\/127\.0\.0\.1:\d+\/scim\/v2: ECONNREFUSED/);
  });

  it("refused credentials are one line and exit 2", () => {
    const r = runCli(["conformance", "--base", url, "--token", "wrong-token-0000000000000000"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/^conformance: .* refused the credentials \(GET \/Users answered 401\)$/);
  });

  it("--only and --skip pick areas and step ids; --json prints one record per step", () => {
    const r = runCli(["conformance", "--base", url, "--token", TOKEN, "--only", "auth,filter.malformed-1", "--skip", "auth.401-scim-error-body", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const records = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { id: string; outcome: string; level: string; source: string; area: string });
    expect(records.map((x) => x.id).sort()).toEqual(["auth.no-credentials-401-challenge", "auth.scheme-case-insensitive", "filter.malformed-1"]);
    for (const x of records) expect(x).toMatchObject({ outcome: "pass", level: "must", source: expect.stringMatching(/^https:\/\//) });
    expect(r.stderr.trim()).toBe("3 passed, 0 failed, 0 warned, 0 skipped");
  });

  it("--junit writes one testcase per step, failures as <failure>", () => {
    const file = join(dir, "junit.xml");
    const r = runCli(["conformance", "--base", url.replace(/\/scim\/v2$/, "/nope"), "--token", TOKEN, "--only", "auth,errors", "--json", "--junit", file]);
    expect(r.code).toBe(1);
    const steps = r.stdout.trim().split("\n").length;
    const root = parseXml(readFileSync(file, "utf8"));
    const cases = descendants(root, "testcase");
    expect(cases).toHaveLength(steps);
    const failures = cases.filter((c) => c.children.some((x) => x.name === "failure"));
    expect(Number(root.attrs.failures)).toBe(failures.length);
    expect(failures.length).toBeGreaterThan(0);
    expect(cases.map((c) => c.attrs.name)).toContain("errors.unknown-id-404");
  });

  it("Ctrl-C stops after the current step, deletes what the run created and exits 130", async () => {
    const run = spawnCli(["conformance", "--base", url, "--token", TOKEN, "--client", "checks"]);
    await waitForOutput(run, /^ok {3}crud\.create-returns/m);
    run.kill("SIGINT");
    let stderr = "";
    run.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => run.once("exit", resolve));
    expect(code, stderr).toBe(130);
    expect(stderr).toContain("interrupted; what the run created was deleted");
    const left = await fetch(`${url}/Users?filter=${encodeURIComponent('userName sw "chk-"')}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(((await left.json()) as { totalResults: number }).totalResults).toBe(0);
  }, 30_000);

  it("usage errors exit 2", () => {
    expect(runCli(["conformance", "--token", TOKEN]).code).toBe(2);
    expect(runCli(["conformance", "--base", url]).code).toBe(2);
    expect(runCli(["conformance", "--base", url, "--token", TOKEN, "--client", "salesforce"]).code).toBe(2);
    // The same check cli.ts turns into exit code 2, without another process.
    expect(conformanceUsageError({ base: url, token: TOKEN, only: ["filtr"] })).toMatch(/^--only\/--skip filtr names no area or step/);
    expect(conformanceUsageError({ base: url, token: TOKEN, only: ["filter", "okta"], skip: ["auth.scheme-case-insensitive"] })).toBeUndefined();
  });
});
