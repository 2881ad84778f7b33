/**
 * One writer per SQLite file, with real processes on a real file and a real slapd: a second
 * `scimbridge serve` on a database that a running one holds refuses to start and names it; a
 * kill -9 leaves no stale lock; and the CLI commands run on the file beside a server that eight
 * clients are writing through, without one 5xx answer or one acknowledged write lost.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { freePort } from "../../hooks/ldap/slapd.js";
import { PATCH_OP, user } from "../helpers/app.js";
import { spawnCli, writeSlapdConfig } from "../helpers/cli.js";
import { useSlapd } from "../harness/slapd.js";

const s = useSlapd();
const PEOPLE = "ou=people,dc=example,dc=com";
const RULES = [
  { name: "people", target: "slapd", dn: `uid={userName},${PEOPLE}` },
  // uidNumber is not allowed by inetOrgPerson: slapd answers 65 objectClassViolation, so every
  // user has a failed delivery here, and each `retry --all` rewrites hundreds of rows at once.
  { name: "broken", target: "slapd", dn: "uid={userName},ou=groups,dc=example,dc=com", attributes: { uidNumber: "nickName" } },
];
const TOKEN = "one-writer-test-token-0123456789";
const headers = { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/scim+json" };
const CLIENTS = 8;
/** Rounds of status, retry --all and reconcile --dry-run while the clients write (each command is a process start). */
const CLI_ROUNDS = 2;
const ROUND_DEADLINE_MS = 35_000;

const dirs: string[] = [];
const running = new Set<Proc>();
afterEach(() => {
  for (const p of running) p.kill();
  running.clear();
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A CLI process with its output collected and its exit awaited with a bound. */
class Proc {
  readonly child: ChildProcess;
  output = "";
  stdout = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[]) {
    this.child = spawnCli(args, { SCIM_TOKEN: TOKEN });
    running.add(this);
    this.child.stdout!.on("data", (c: Buffer) => {
      this.stdout += c.toString();
      this.output += c.toString();
    });
    this.child.stderr!.on("data", (c: Buffer) => (this.output += c.toString()));
    this.exited = new Promise((r) =>
      this.child.once("exit", (code, signal) => {
        running.delete(this);
        r({ code, signal });
      }),
    );
  }

  /** The exit, or a failure naming the output after `ms`. */
  async exit(ms = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no exit after ${ms} ms:\n${this.output.slice(-4000)}`)), ms)));
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async waitFor(pattern: RegExp, ms = 30_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pattern.test(this.output)) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`exited before ${String(pattern)}:\n${this.output.slice(-4000)}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(pattern)}:\n${this.output.slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }
}

/** A fresh database; `configFor()` writes a config on it with its own port each time. */
function freshDatabase(name: string): { dbFile: string; configFor: () => Promise<{ config: string; base: string }> } {
  const dir = mkdtempSync(join(tmpdir(), `scimbridge-one-writer-${name}-`));
  dirs.push(dir);
  const dbFile = join(dir, "scim.db");
  let n = 0;
  return {
    dbFile,
    configFor: async () => {
      const port = await freePort();
      const config = join(dir, `config-${n++}.yaml`);
      writeSlapdConfig(config, { dbFile, slapd: s.slapd, rules: RULES, extra: [`server: { port: ${port} }`, "provisioning: { pollMs: 50, maxAttempts: 1 }"] });
      return { config, base: `http://127.0.0.1:${port}/scim/v2` };
    },
  };
}

async function serve(config: string): Promise<Proc> {
  const p = new Proc(["serve", "--config", config]);
  await p.waitFor(/listening on/);
  return p;
}

describe("one serve per database file", () => {
  it("a second serve on the same file exits non-zero naming the file and the running server's pid and host; the CLI runs beside it", { timeout: 60_000 }, async () => {
    const db = freshDatabase("second");
    const first = await serve((await db.configFor()).config);
    // Its own port: only the database is shared, so the lock is what refuses it.
    const { config } = await db.configFor();
    const second = new Proc(["serve", "--config", config]);
    const { code } = await second.exit();
    expect(code).toBe(1);
    expect(second.output).toContain(db.dbFile);
    expect(second.output).toContain(`pid ${first.child.pid} on host ${hostname()}`);
    expect(second.output).not.toMatch(/listening on|\n\s+at /);
    expect(first.child.exitCode).toBeNull();

    // The CLI is not a server: its commands work on the file beside the running one.
    const create = new Proc(["token", "create", "ops", "--config", config]);
    expect((await create.exit()).code, create.output).toBe(0);
    const runs = ["token list", "config check", "audit export"].map((c) => new Proc([...c.split(" "), "--config", config]));
    const exits = await Promise.all(runs.map((p) => p.exit()));
    exits.forEach((e, i) => expect(e.code, runs[i]!.output).toBe(0));
    expect(runs[0]!.stdout).toMatch(/^ops\t/m);
  });

  it("kill -9 leaves no stale lock: the next serve starts on the file at once", async () => {
    const db = freshDatabase("kill9");
    const first = await serve((await db.configFor()).config);
    first.kill();
    await first.exit();
    const { config, base } = await db.configFor();
    await serve(config);
    expect((await fetch(`${base}/Users?count=0`, { headers })).status).toBe(200);
  });
});

interface Tracked {
  id: string;
  /** The title the last acknowledged PATCH set (undefined: none acknowledged). */
  title?: string;
  deleted: boolean;
}

describe("the CLI beside a server under write load", () => {
  it("status, retry --all and reconcile --dry-run in a loop while 8 clients write: no 5xx, no lost write", { timeout: 60_000 }, async () => {
    const db = freshDatabase("load");
    const { config, base } = await db.configFor();
    const server = await serve(config);

    const statuses = new Map<number, number>();
    const transportErrors: string[] = [];
    const tracked = new Map<string, Tracked>();
    let cliDone = false;

    /** One request; its status counted, a transport failure recorded (its outcome is unknown). */
    const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> } | undefined> => {
      try {
        const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(20_000) });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const text = await res.text();
        return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
      } catch (e) {
        transportErrors.push(`${method} ${path}: ${(e as Error).message}`);
        return undefined;
      }
    };

    // Each client creates users, patches each a few times and deletes every third one.
    const client = async (c: number) => {
      for (let n = 0; !cliDone; n++) {
        const userName = `ow${c}-${n}`;
        const created = await call("POST", "/Users", user(userName, { nickName: "1000" }));
        if (created?.status !== 201) continue;
        const t: Tracked = { id: String(created.body.id), deleted: false };
        tracked.set(userName, t);
        for (let k = 0; k < 3; k++) {
          const title = `v${k}`;
          const patched = await call("PATCH", `/Users/${t.id}`, { schemas: [PATCH_OP], Operations: [{ op: "replace", path: "title", value: title }] });
          if (patched?.status === 200) t.title = title;
        }
        if (n % 3 === 2 && (await call("DELETE", `/Users/${t.id}`))?.status === 204) t.deleted = true;
      }
    };

    const cliRuns: { args: string; code: number | null; output: string }[] = [];
    // The three side by side in each round, so their writes and reads overlap the clients' and each other's.
    const cliLoop = async () => {
      const deadline = Date.now() + ROUND_DEADLINE_MS;
      try {
        for (let round = 0; round < CLI_ROUNDS && Date.now() < deadline; round++) {
          await Promise.all(
            [["status"], ["retry", "--all"], ["reconcile", "--dry-run"]].map(async (args) => {
              const p = new Proc([...args, "--config", config]);
              const { code } = await p.exit();
              cliRuns.push({ args: args.join(" "), code, output: p.output });
            }),
          );
        }
      } finally {
        cliDone = true;
      }
    };

    await Promise.all([cliLoop(), ...Array.from({ length: CLIENTS }, (_, c) => client(c))]);

    expect(transportErrors).toEqual([]);
    const serverErrors = [...statuses].filter(([status]) => status >= 500);
    expect(serverErrors, JSON.stringify([...statuses])).toEqual([]);
    expect([...statuses.keys()].sort()).toEqual([200, 201, 204]);
    expect(cliRuns.length).toBeGreaterThanOrEqual(3);
    for (const r of cliRuns) {
      // reconcile exits 3 on drift: the writes race its read of the directory, and the broken rule never delivers.
      expect(r.args.startsWith("reconcile") ? [0, 3] : [0], `${r.args} exited ${r.code}:\n${r.output}`).toContain(r.code);
      expect(r.output).not.toMatch(/database is locked|SQLITE_BUSY|\n\s+at /);
    }
    expect(tracked.size).toBeGreaterThan(CLIENTS);
    // The worker's own transactions met the CLI's too: it waited for them, it never gave up on a delivery.
    expect(server.child.exitCode).toBeNull();
    expect(server.output).not.toMatch(/delivery crashed|pump failed|database busy/);

    // Every acknowledged write is there: deleted users are gone, the others carry their last title.
    for (const [userName, t] of tracked) {
      const got = await call("GET", `/Users/${t.id}`);
      if (t.deleted) expect(got?.status, userName).toBe(404);
      else expect({ userName, status: got?.status, title: got?.body.title }).toEqual({ userName, status: 200, title: t.title });
    }
  });
});
