/**
 * Graceful shutdown (issue 6): `scimbridge serve` as a real process against a real slapd. SIGTERM
 * stops it taking requests, lets in-flight requests and LDAP deliveries finish, then exits 0;
 * nothing accepted is lost, and a restart on the same database delivers every accepted user
 * exactly once.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type Socket } from "node:net";
import type { ChildProcess } from "node:child_process";
import Database from "better-sqlite3";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { freePort } from "../../hooks/ldap/slapd.js";
import { user } from "../helpers/app.js";
import { spawnCli, writeSlapdConfig } from "../helpers/cli.js";
import { provisioned } from "../helpers/provisioned.js";
import { useSlapd } from "../harness/slapd.js";

const s = useSlapd();
const PEOPLE = "ou=people,dc=example,dc=com";
const RULE = { name: "people", target: "slapd", dn: `uid={userName},${PEOPLE}` };
const TOKEN = "shutdown-test-token-0123456789";
const ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error";
/** Connection-level failures a client may see once the server stopped listening or closed its socket. */
const CONNECTION_ERRORS = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "UND_ERR_CLOSED"]);

const dirs: string[] = [];
const running: Serve[] = [];
let slapdStopped = false;

const resumeSlapd = () => {
  if (slapdStopped) s.slapd.kill("SIGCONT");
  slapdStopped = false;
};
afterEach(() => {
  resumeSlapd();
  for (const p of running.splice(0)) p.kill();
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One `scimbridge serve` child: its output collected, its exit awaited with a bound. */
class Serve {
  readonly child: ChildProcess;
  output = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(config: string) {
    this.child = spawnCli(["serve", "--config", config], { SCIM_TOKEN: TOKEN });
    running.push(this);
    this.child.stdout!.on("data", (c: Buffer) => (this.output += c.toString()));
    this.child.stderr!.on("data", (c: Buffer) => (this.output += c.toString()));
    this.exited = new Promise((r) => this.child.once("exit", (code, signal) => r({ code, signal })));
  }

  /** Polls the collected output (bounded). */
  async waitFor(pattern: RegExp | ((log: LogLine[]) => boolean), ms = 30_000): Promise<void> {
    const done = () => (pattern instanceof RegExp ? pattern.test(this.output) : pattern(this.logs()));
    const deadline = Date.now() + ms;
    while (!done()) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`serve exited before ${String(pattern)}:\n${this.output.slice(-4000)}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(pattern)}:\n${this.output.slice(-4000)}`);
      await sleep(10);
    }
  }

  /** The JSON log lines (pino), in order. */
  logs(): LogLine[] {
    return this.output
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as LogLine);
  }

  /** Resolves with the exit, or undefined after `ms`. */
  async exit(ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([this.exited, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]);
    clearTimeout(timer);
    return result;
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }
}

interface LogLine {
  level: number;
  time: number;
  msg: string;
  status?: number;
  [k: string]: unknown;
}

interface Outcome {
  userName: string;
  started: number;
  ended: number;
  status?: number;
  body?: Record<string, unknown>;
  /** A connection-level error code, or "timeout". */
  error?: string;
}

/**
 * A fresh database and config (info logs, so shutdown is visible; a 50 ms worker poll), and serve
 * started on it. `server` adds keys to the server section.
 */
async function startServe(name: string, server = ""): Promise<{ serve: Serve; base: string; config: string; dbFile: string }> {
  const dir = mkdtempSync(join(tmpdir(), `scimbridge-shutdown-${name}-`));
  dirs.push(dir);
  const config = join(dir, "config.yaml");
  const dbFile = join(dir, "db.sqlite");
  const port = await freePort();
  writeSlapdConfig(config, { dbFile, slapd: s.slapd, rules: [RULE], logLevel: "info", extra: [`server: { port: ${port}${server ? ", " + server : ""} }`, "provisioning: { pollMs: 50 }"] });
  const serve = new Serve(config);
  await serve.waitFor(/listening on/);
  return { serve, base: `http://127.0.0.1:${port}/scim/v2`, config, dbFile };
}

const headers = { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/scim+json" };

/**
 * `clients` concurrent clients POST users `${prefix}${i}` (i < total) over keep-alive connections
 * (fetch pools them). A client stops once it cannot connect any more (the listener is closed);
 * 503s and resets are recorded and it goes on. Every request has a bounded timeout.
 */
function stream(base: string, prefix: string, clients: number, total: number): { outcomes: Outcome[]; accepted: () => number; done: Promise<void> } {
  const outcomes: Outcome[] = [];
  let next = 0;
  let accepted = 0;
  const deadline = Date.now() + 60_000;
  const client = async () => {
    while (next < total && Date.now() < deadline) {
      const userName = `${prefix}${next++}`;
      const o: Outcome = { userName, started: Date.now(), ended: 0 };
      outcomes.push(o);
      try {
        const res = await fetch(`${base}/Users`, { method: "POST", headers, body: JSON.stringify(user(userName)), signal: AbortSignal.timeout(20_000) });
        o.status = res.status;
        o.body = (await res.json()) as Record<string, unknown>;
        if (res.status === 201) accepted++;
      } catch (e) {
        const err = e as Error & { cause?: { code?: string } };
        o.error = err.name === "TimeoutError" ? "timeout" : (err.cause?.code ?? err.name);
      }
      o.ended = Date.now();
      if (o.error === "ECONNREFUSED") return;
    }
  };
  const done = Promise.all(Array.from({ length: clients }, client)).then(() => undefined);
  return { outcomes, accepted: () => accepted, done };
}

/** Waits (bounded) until `cond` holds; returns whether it did. */
async function until(cond: () => boolean | Promise<boolean>, ms: number, every = 20): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await cond()) return true;
    await sleep(every);
  }
  return cond();
}

/** uid values under ou=people starting with `prefix` (duplicates kept, to check exactly-once). */
async function ldapUids(prefix: string): Promise<string[]> {
  const { searchEntries } = await s.admin.search(PEOPLE, { scope: "one", filter: `(uid=${prefix}*)`, attributes: ["uid"], paged: { pageSize: 500 } });
  return searchEntries.map((e) => String(e.uid));
}

interface DbView {
  userNames: Set<string>;
  /** userName → sync_state.state for the people rule (users without a row are absent). */
  states: Map<string, string>;
  /** userNames whose outbox change was not fanned out yet. */
  notFannedOut: Set<string>;
}

/** The database after the process exited (read-only: nothing here changes it). */
function readDb(dbFile: string, prefix: string): DbView {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    const users = db.prepare("SELECT id, user_name AS userName FROM users WHERE user_name LIKE ?").all(`${prefix}%`) as { id: string; userName: string }[];
    const byId = new Map(users.map((u) => [u.id, u.userName]));
    const states = new Map<string, string>();
    for (const r of db.prepare("SELECT resource_id AS id, state FROM sync_state WHERE resource_type = 'User' AND rule = ?").all(RULE.name) as { id: string; state: string }[]) {
      const name = byId.get(r.id);
      if (name) states.set(name, r.state);
    }
    const notFannedOut = new Set<string>();
    for (const r of db.prepare("SELECT DISTINCT resource_id AS id FROM changes WHERE resource_type = 'User' AND fanned_out = 0").all() as { id: string }[]) {
      const name = byId.get(r.id);
      if (name) notFannedOut.add(name);
    }
    return { userNames: new Set(users.map((u) => u.userName)), states, notFannedOut };
  } finally {
    db.close();
  }
}

function expectScimError(o: Outcome): void {
  expect(o.body?.schemas).toEqual([ERROR_SCHEMA]);
  expect(o.body?.status).toBe(String(o.status));
}

/** Restarts serve on the same database; every accepted user ends in slapd exactly once, nothing else. */
async function expectDeliveredExactlyOnce(config: string, prefix: string, accepted: string[]): Promise<void> {
  const again = new Serve(config);
  await again.waitFor(/listening on/);
  let uids: string[] = [];
  const want = new Set(accepted);
  await until(async () => {
    uids = await ldapUids(prefix);
    return accepted.every((u) => uids.includes(u));
  }, 30_000, 200);
  expect(accepted.filter((u) => !uids.includes(u))).toEqual([]);
  expect(uids.length).toBe(new Set(uids).size); // exactly once
  expect(uids.filter((u) => !want.has(u))).toEqual([]); // nothing that was not accepted
  again.child.kill("SIGTERM");
  expect(await again.exit(15_000)).toEqual({ code: 0, signal: null });
}

describe("graceful shutdown (SIGTERM)", () => {
  it("during a stream of creates from 8 clients: exits 0, every 201 is stored and delivered exactly once after restart", async () => {
    const { serve, base, config, dbFile } = await startServe("stream");
    const load = stream(base, "gs", 8, 3000);
    // SIGTERM once a good number were accepted (bounded), not after a fixed time.
    expect(await until(() => load.accepted() >= 300, 30_000)).toBe(true);
    const sigterm = Date.now();
    serve.child.kill("SIGTERM");
    const exit = await serve.exit(20_000);
    const exitMs = Date.now() - sigterm;
    await load.done;
    expect(exit).toEqual({ code: 0, signal: null });

    const logs = serve.logs();
    const shuttingDown = logs.findIndex((l) => l.msg === "shutting down");
    expect(shuttingDown).toBeGreaterThanOrEqual(0);
    expect(logs.find((l) => l.msg === "stopped")).toMatchObject({ signal: "SIGTERM" });
    expect(logs.filter((l) => l.level >= 50)).toEqual([]); // no error (no delivery crashed on a closed database)
    // Keep-alive connections do not keep feeding requests: once shutdown started at most the
    // requests already in flight on the 8 connections complete with 201.
    expect(logs.slice(shuttingDown).filter((l) => l.msg === "request" && l.status === 201).length).toBeLessThanOrEqual(8);

    const { outcomes } = load;
    // Every request ended: with a proper response (201, or a SCIM 503) or a connection error; none hung.
    for (const o of outcomes) {
      if (o.error) expect(CONNECTION_ERRORS, `${o.userName}: ${o.error}`).toContain(o.error);
      else if (o.status !== 201) {
        expect(o.status, o.userName).toBe(503);
        expectScimError(o);
      }
    }
    const inFlight = outcomes.filter((o) => o.started <= sigterm && o.ended >= sigterm);
    expect(inFlight.every((o) => o.status !== undefined || CONNECTION_ERRORS.has(o.error!))).toBe(true);

    const accepted = outcomes.filter((o) => o.status === 201).map((o) => o.userName);
    const db = readDb(dbFile, "gs");
    // Nothing accepted is lost, and nothing the client was not told about was stored: a request
    // that failed on the connection had not been processed.
    expect(accepted.filter((u) => !db.userNames.has(u))).toEqual([]);
    expect([...db.userNames].filter((u) => !accepted.includes(u))).toEqual([]);
    // No half state: each accepted user is delivered, pending, or not yet fanned out (the restart does it).
    for (const u of accepted) {
      const state = db.states.get(u);
      if (state === undefined) expect(db.notFannedOut.has(u), u).toBe(true);
      else expect(["in_sync", "pending"], u).toContain(state);
    }
    // An entry in slapd for a user whose row is not in_sync would be a delivery whose outcome was not recorded.
    const inLdap = new Set(await ldapUids("gs"));
    const pendingInLdap = accepted.filter((u) => db.states.get(u) !== "in_sync" && inLdap.has(u));
    expect(pendingInLdap).toEqual([]);

    await expectDeliveredExactlyOnce(config, "gs", accepted);
    console.log(
      `stream: ${outcomes.length} requests, ${accepted.length} accepted, ${inFlight.length} in flight at SIGTERM, ` +
        `${outcomes.filter((o) => o.status === 503).length}×503, ${outcomes.filter((o) => o.error).length} connection errors, exit after ${exitMs} ms, ` +
        `${[...db.states.values()].filter((x) => x === "in_sync").length} in_sync at exit`,
    );
  }, 120_000);

  it("with deliveries stuck on a slow slapd: waits for them, exits 0, leaves no half state; the restart delivers the rest", async () => {
    const { serve, base, config, dbFile } = await startServe("slow");
    s.slapd.kill("SIGSTOP"); // the directory hangs: deliveries start and wait for its answers
    slapdStopped = true;
    const load = stream(base, "slow", 8, 200);
    await load.done;
    const accepted = load.outcomes.filter((o) => o.status === 201).map((o) => o.userName);
    expect(accepted.length).toBe(200); // the SCIM API never waits on the directory
    await sleep(200); // fanned out, and the first deliveries are on the wire
    const sigterm = Date.now();
    serve.child.kill("SIGTERM");
    await serve.waitFor((logs) => logs.some((l) => l.msg === "waiting for in-flight deliveries"), 10_000);
    const holdMs = 1500;
    await sleep(holdMs);
    expect(serve.child.exitCode).toBeNull(); // still waiting for the directory
    resumeSlapd();
    const exit = await serve.exit(20_000);
    const exitMs = Date.now() - sigterm;
    expect(exit).toEqual({ code: 0, signal: null });

    const logs = serve.logs();
    const finished = logs.find((l) => l.msg === "in-flight deliveries finished");
    expect(finished).toBeDefined();
    expect(finished!.ms as number).toBeGreaterThanOrEqual(holdMs - 100);
    expect(logs.find((l) => l.msg === "stopped")).toMatchObject({ signal: "SIGTERM" });
    expect(logs.filter((l) => l.level >= 50)).toEqual([]);

    const db = readDb(dbFile, "slow");
    expect(accepted.filter((u) => !db.userNames.has(u))).toEqual([]);
    for (const u of accepted) {
      const state = db.states.get(u);
      if (state === undefined) expect(db.notFannedOut.has(u), u).toBe(true);
      else expect(["in_sync", "pending"], u).toContain(state);
    }
    const inSync = accepted.filter((u) => db.states.get(u) === "in_sync");
    expect(inSync.length).toBeGreaterThan(0); // the deliveries in flight at SIGTERM finished
    expect(inSync.length).toBeLessThan(accepted.length); // the backlog was left for the restart
    // What slapd holds is exactly what the database says was delivered: no half state.
    expect((await ldapUids("slow")).sort()).toEqual([...inSync].sort());

    await expectDeliveredExactlyOnce(config, "slow", accepted);
    console.log(`slow slapd: ${accepted.length} accepted, ${inSync.length} delivered before exit, exit ${exitMs} ms after SIGTERM (slapd held ${holdMs} ms)`);
  }, 120_000);

  it("worker: a stop() between a wake() and its pump starts no delivery (it would outlive stop's wait and the store)", async () => {
    const p = await provisioned(s, { userRules: [RULE], provisioning: { pollMs: 60_000 } });
    try {
      const worker = p.assembled.provisioning.worker;
      await worker.stop();
      const res = await p.http.post("/scim/v2/Users").set(p.auth).send(user("race0")); // committed; the stopped worker is not woken
      expect(res.status).toBe(201);
      await worker.start(); // wakes: a pump is scheduled for the next turn of the event loop
      await worker.stop(); // nothing in flight yet: returns before that pump runs
      await sleep(300);
      const row = p.store.sqlite.prepare("SELECT state FROM sync_state WHERE resource_id = ?").get(res.body.id as string);
      expect(row).toBeUndefined(); // not even fanned out
      expect(await ldapUids("race")).toEqual([]);
    } finally {
      await p.close();
    }
  });

  it("HTTP: refuses new connections, finishes in-flight requests, answers 503 to later ones, and is not held by idle or stuck sockets", async () => {
    const { serve, base } = await startServe("http", "shutdownGraceMs: 2000");
    const { port, hostname } = new URL(base);
    const sockets: Socket[] = [];
    const raw = (): Promise<Socket> =>
      new Promise((resolve, reject) => {
        const sock = connect(Number(port), hostname, () => resolve(sock));
        sockets.push(sock);
        sock.once("error", reject);
      });
    const body = JSON.stringify(user("inflight0"));
    const postHead = `POST /scim/v2/Users HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/scim+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
    try {
      // An idle keep-alive connection: one request answered, the socket left open.
      const idle = collect(await raw());
      idle.sock.write(`GET /scim/v2/Users?count=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`);
      expect(await until(() => /\r\n\r\n/.test(idle.text), 5000)).toBe(true);
      expect(idle.text).toMatch(/^HTTP\/1\.1 200/);
      // A request in flight: its headers and half its body sent.
      const busy = collect(await raw());
      busy.sock.write(postHead + "\r\n" + body.slice(0, 20));
      // A request whose headers are not complete yet: it arrives once shutdown has started.
      const late = collect(await raw());
      late.sock.write(postHead.replace("inflight0", "late0"));
      // A stalled client: headers never finished.
      const stuck = collect(await raw());
      stuck.sock.write("POST /scim/v2/Users HTTP/1.1\r\nHost: 127.0.0.1\r\n");
      await sleep(100);

      const sigterm = Date.now();
      serve.child.kill("SIGTERM");
      await serve.waitFor((logs) => logs.some((l) => l.msg === "shutting down"), 10_000);
      // New connections are refused.
      const refused = await until(async () => (await raw().then((c) => (c.destroy(), "open"), (e: { code?: string }) => e.code)) === "ECONNREFUSED", 5000);
      expect(refused).toBe(true);
      // The idle keep-alive connection is closed.
      expect(await until(() => idle.closed, 5000)).toBe(true);
      // The in-flight request finishes with its 201, and its connection then closes.
      await sleep(200);
      busy.sock.write(body.slice(20));
      expect(await until(() => busy.closed, 5000)).toBe(true);
      expect(busy.text).toMatch(/^HTTP\/1\.1 201/);
      expect(busy.text.toLowerCase()).toContain("connection: close");
      expect(JSON.parse(busy.text.slice(busy.text.indexOf("\r\n\r\n") + 4))).toMatchObject({ userName: "inflight0" });
      // The late request is not taken: a SCIM 503 (RFC 7644 §3.12), and the connection closes.
      late.sock.write("\r\n" + body.replace("inflight0", "late0"));
      expect(await until(() => late.closed, 5000)).toBe(true);
      expect(late.text).toMatch(/^HTTP\/1\.1 503/);
      expect(late.text.toLowerCase()).toContain("connection: close");
      expect(late.text.toLowerCase()).toContain("content-type: application/scim+json");
      expect(JSON.parse(late.text.slice(late.text.indexOf("\r\n\r\n") + 4))).toEqual({ schemas: [ERROR_SCHEMA], status: "503", detail: expect.any(String) });
      // The stalled socket does not keep the process alive beyond the grace period.
      const exit = await serve.exit(20_000);
      const exitMs = Date.now() - sigterm;
      expect(exit).toEqual({ code: 0, signal: null });
      expect(stuck.closed).toBe(true);
      expect(serve.logs().some((l) => l.msg === "closing connections still open after the grace period")).toBe(true);
      expect(exitMs).toBeGreaterThanOrEqual(2000);
      expect(serve.logs().filter((l) => l.level >= 50)).toEqual([]);
      console.log(`http: exit ${exitMs} ms after SIGTERM with a stalled client connection (grace 2000 ms)`);
    } finally {
      for (const sock of sockets) sock.destroy();
    }
  }, 60_000);
});

/** Everything a raw socket receives, and whether it was closed. */
function collect(sock: Socket): { sock: Socket; text: string; closed: boolean } {
  const r = { sock, text: "", closed: false };
  sock.on("data", (c: Buffer) => (r.text += c.toString()));
  sock.on("close", () => (r.closed = true));
  sock.on("error", () => (r.closed = true));
  return r;
}
