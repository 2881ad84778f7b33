/**
 * Replicas: what a second scimbridge process on one PostgreSQL adds, and what PostgreSQL costs
 * against SQLite, measured in one run on one slapd. Three set-ups, each on a fresh database and a
 * fresh ou of the same slapd:
 * - SQLite, one process;
 * - PostgreSQL, one replica;
 * - PostgreSQL, two replicas on the same database, requests spread round-robin over both (as a
 *   load balancer without sticky sessions would: docs/deployment-replicas.md).
 * Every replica is its own `scimbridge serve` process (server/cli.ts through tsx, as the CLI tests
 * run it), on its own 127.0.0.1 port: one event loop could not show what a second replica adds.
 * For each: SCIM writes/s (POST /Users of BENCH_REPLICAS_USERS users, default 3000, by 16
 * concurrent clients, after BENCH_REPLICAS_WARMUP users, default 300, not counted), write latency
 * p50/p99, and delivery lag p50/p99, from the POST's answer (just after the commit) until the
 * entry is found in slapd by a poll of every user not yet seen. The poll reads the directory, not a
 * replica, so the figure does not depend on which replica delivers. Then the ratios against the targets: two
 * replicas >= 1.6x one replica's writes/s; PostgreSQL single >= 0.7x SQLite single. The bench
 * reports, it does not assert: on 2 cores PostgreSQL, slapd, the replicas and these clients share
 * the CPU, so each set-up also prints who used it while the writes ran (other load on the host
 * included) and what each process spent per user over all the work, writes and deliveries.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Client } from "ldapts";
import { stringify } from "yaml";
import { freePort, startSlapd, type SlapdHandle } from "../hooks/ldap/slapd.js";
import { childrenOf, startPostgres, type PostgresServer } from "../test/harness/postgres-cluster.js";
import { installExitHandlers, live } from "../test/harness/process-group.js";
import { boundClient, fmt, httpClient, percentile, row, type HttpClient } from "./lib.js";

const ROOT = resolve(import.meta.dirname, "..");
const CLI = [process.execPath, "--import", "tsx", join(ROOT, "server", "cli.ts")] as const;
const CLIENTS = 16;
const SECRET_KEY = Buffer.alloc(32, 5).toString("base64");
/** Users found in slapd are looked for this often; the lag's resolution is about this plus one search. */
const POLL_MS = 20;
/** Users looked for per poll, oldest answer first (deliveries run oldest change first). */
const POLL_BATCH = 200;

interface SetUp {
  name: string;
  label: string;
  replicas: number;
  engine: "sqlite" | "postgres";
}

const SET_UPS: SetUp[] = [
  { name: "sqlite", label: "SQLite, one process", replicas: 1, engine: "sqlite" },
  { name: "pg1", label: "PostgreSQL, one replica", replicas: 1, engine: "postgres" },
  { name: "pg2", label: "PostgreSQL, two replicas", replicas: 2, engine: "postgres" },
];

interface Result {
  writesPerSecond: number;
  latency: { p50: number; p99: number };
  lag: { p50: number; p99: number };
  deliveredSeconds: number;
  /** CPU seconds each used from the first POST to the last answer. */
  cpuWriting: Map<string, number>;
  /** CPU seconds each used from the first POST until every user was in slapd: all the work, writes and deliveries. */
  cpuAll: Map<string, number>;
  /** First POST to last answer: the span of the CPU figures. */
  writeSeconds: number;
}

function user(prefix: string, i: number): Record<string, unknown> {
  return {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
    userName: `${prefix}${i}`,
    name: { givenName: `Given${i}`, familyName: `Replica${i}` },
    emails: [{ value: `${prefix}${i}@example.com`, type: "work", primary: true }],
    active: true,
  };
}

/** One `scimbridge serve` child process: output kept (its tail explains a failure), killed if we die. */
class Replica {
  readonly child: ChildProcess;
  private output = "";
  private readonly exited: Promise<void>;
  private readonly kill = () => void this.child.kill("SIGKILL");

  constructor(
    config: string,
    readonly base: string,
  ) {
    // No SCIM_TOKEN: the token comes from `token create`, stored in the shared database.
    const { SCIM_TOKEN: _ignored, ...env } = process.env;
    this.child = spawn(CLI[0], [...CLI.slice(1), "serve", "--config", config], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    const keep = (c: Buffer) => (this.output = (this.output + c.toString()).slice(-8000));
    this.child.stdout!.on("data", keep);
    this.child.stderr!.on("data", keep);
    this.exited = new Promise((r) => this.child.once("exit", () => r()));
    live.add(this.kill);
    installExitHandlers();
  }

  /** Whether it still runs, and its last output: what a failed request is explained by. */
  describe(): string {
    const state = this.child.exitCode !== null || this.child.signalCode !== null ? `exited (${this.child.exitCode ?? this.child.signalCode})` : "running";
    return `replica ${this.base} (pid ${this.pid}) ${state}; its last output:\n${this.output.slice(-2000)}`;
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** Polls /readyz (the database answers) until 200, bounded. */
  async ready(ms = 60_000): Promise<void> {
    const deadline = Date.now() + ms;
    const url = new URL(this.base);
    for (;;) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`serve exited before it was ready:\n${this.output}`);
      const status = await fetch(`${url.origin}/readyz`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) return;
      if (Date.now() > deadline) throw new Error(`serve not ready after ${ms} ms (last /readyz: ${status}):\n${this.output}`);
      await sleep(100);
    }
  }

  /** SIGTERM (a graceful stop: in-flight requests and deliveries finish), SIGKILL past the bound. */
  async stop(ms = 20_000): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill("SIGTERM");
      const timer = setTimeout(this.kill, ms);
      await this.exited;
      clearTimeout(timer);
    }
    live.delete(this.kill);
  }
}

/** The bearer token of the set-up, made by the CLI (which also creates and migrates the database). */
function createToken(config: string): string {
  const r = spawnSync(CLI[0], [...CLI.slice(1), "--config", config, "--json", "token", "create", "bench"], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`token create exited ${r.status}: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { token: string }).token;
}

/**
 * Users answered by SCIM and not yet found in slapd, looked for every POLL_MS in one search; each
 * one found gives its lag (found minus answered). Reads slapd, so whichever replica delivered.
 */
class Arrivals {
  private readonly waiting = new Map<string, number>();
  lags: number[] = [];
  private running = true;
  private failure: Error | undefined;
  private readonly loop: Promise<void>;

  constructor(
    private readonly ldap: Client,
    private readonly base: string,
  ) {
    // A failed search ends the polling and is reported by settled(), not left unhandled.
    this.loop = this.poll().catch((e: unknown) => void (this.failure = e as Error));
  }

  answered(uid: string, at: number): void {
    this.waiting.set(uid, at);
  }

  /** Resolves once every answered user is in slapd (bounded). */
  async settled(ms = 600_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.waiting.size) {
      if (this.failure) throw new Error(`looking for users in ${this.base}: ${this.failure.message}`);
      if (Date.now() > deadline) throw new Error(`${this.waiting.size} users answered by SCIM are not in ${this.base} after ${ms / 1000} s`);
      await sleep(POLL_MS);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async poll(): Promise<void> {
    while (this.running) {
      const uids = [...this.waiting.keys()].slice(0, POLL_BATCH);
      if (uids.length) {
        const found = await this.ldap.search(this.base, { scope: "one", filter: `(|${uids.map((u) => `(uid=${u})`).join("")})`, attributes: ["uid"] });
        const at = performance.now();
        for (const e of found.searchEntries) {
          const uid = String(e.uid);
          const answered = this.waiting.get(uid);
          if (answered === undefined) continue;
          this.lags.push(at - answered);
          this.waiting.delete(uid);
        }
      }
      await sleep(POLL_MS);
    }
  }
}

/** `n` POSTs by CLIENTS concurrent clients, request i to replica i mod R (round-robin, no stickiness). */
async function drive(clients: HttpClient[], n: number, prefix: string, arrivals: Arrivals, replicas: Replica[]): Promise<{ seconds: number; latencies: number[] }> {
  let next = 0;
  const latencies: number[] = [];
  const t0 = performance.now();
  try {
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (next < n) {
          const i = next++;
          const sent = performance.now();
          const r = await clients[i % clients.length]!.send("POST", "/Users", user(prefix, i));
          const at = performance.now();
          if (r.status !== 201) throw new Error(`POST /Users ${prefix}${i}: ${r.status} ${r.body.slice(0, 300)}`);
          latencies.push(at - sent);
          arrivals.answered(`${prefix}${i}`, at);
        }
      }),
    );
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${replicas.map((r) => r.describe()).join("\n")}`, { cause: e });
  }
  return { seconds: (performance.now() - t0) / 1000, latencies };
}

const TICK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; 0 once it is gone. */
function cpuOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICK; // utime and stime (proc(5) fields 14, 15)
  } catch {
    return 0;
  }
}

/** The machine's CPU seconds so far, busy and idle (iowait counted idle), from /proc/stat's first line. */
function machineCpu(): { busy: number; idle: number } {
  const [, ...ticks] = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/);
  const t = ticks.slice(0, 8).map(Number); // user nice system idle iowait irq softirq steal
  const idle = t[3]! + t[4]!;
  return { busy: (t.reduce((a, b) => a + b, 0) - idle) / TICK, idle: idle / TICK };
}

/**
 * Who used the CPU: each replica, PostgreSQL (postmaster and backends), slapd, this process, and
 * the rest of the machine (other work on a shared host), with what stayed idle.
 */
function cpuSnapshot(replicas: Replica[], pg: PostgresServer | undefined, slapd: SlapdHandle): Map<string, number> {
  const out = new Map<string, number>();
  replicas.forEach((r, i) => out.set(`replica ${i + 1}`, cpuOf(r.pid)));
  if (pg) out.set("postgres", [pg.pid, ...childrenOf(pg.pid)].reduce((s, p) => s + cpuOf(p), 0));
  out.set("slapd", cpuOf(slapd.pid));
  const own = process.cpuUsage();
  out.set("bench clients", (own.user + own.system) / 1e6);
  const machine = machineCpu();
  out.set("other processes", machine.busy - [...out.values()].reduce((a, b) => a + b, 0));
  out.set("idle", machine.idle);
  return out;
}

const since = (from: Map<string, number>, to: Map<string, number>) => new Map([...to].map(([who, v]) => [who, v - (from.get(who) ?? 0)]));

async function runSetUp(s: SetUp, users: number, warmup: number, slapd: SlapdHandle, admin: Client, pg: PostgresServer | undefined): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), `scimbridge-bench-replicas-${s.name}-`));
  // Removed on the way out, also when a signal ends the bench (test/harness/process-group.ts).
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  live.add(removeDir);
  const replicas: Replica[] = [];
  const clients: HttpClient[] = [];
  const ou = `ou=${s.name},${slapd.suffix}`;
  await admin.add(ou, { objectClass: ["organizationalUnit"], ou: [s.name] });
  const arrivals = new Arrivals(admin, ou);
  try {
    let token: string | undefined;
    // PostgreSQL's CPU is counted only where it serves the set-up.
    const engine = s.engine === "postgres" ? pg : undefined;
    const storage = s.engine === "sqlite" ? { file: join(dir, "scimbridge.db") } : { url: await pg!.createDatabase(`bench_${s.name}`) };
    for (let i = 0; i < s.replicas; i++) {
      const port = await freePort();
      const file = join(dir, `replica${i + 1}.yaml`);
      writeFileSync(
        file,
        stringify({
          server: { host: "127.0.0.1", port },
          storage,
          logging: { level: "warn" },
          targets: [{ name: "slapd", directory: "openldap", urls: [slapd.url], bindDn: slapd.rootDn, bindPassword: slapd.rootPassword }],
          userRules: [{ name: s.name, target: "slapd", dn: `uid={userName},${ou}` }],
          provisioning: { secretKey: SECRET_KEY },
        }),
      );
      chmodSync(file, 0o600); // it holds the database's and the directory's passwords
      // Before any replica: the CLI creates and migrates the database, and the token lives in it.
      token ??= createToken(file);
      replicas.push(new Replica(file, `http://127.0.0.1:${port}/scim/v2`));
    }
    await Promise.all(replicas.map((r) => r.ready()));
    // Fresh keep-alive connections for each phase: a connection left idle past the server's
    // keep-alive timeout (Node's default, 5 s) while the warm-up's deliveries drain is closed by
    // the server, and a request sent on it as it closes fails with ECONNRESET.
    const connect = () => {
      for (const c of clients.splice(0)) c.close();
      for (const r of replicas) clients.push(httpClient(r.base, token!, CLIENTS));
    };

    // Warm-up, not counted: each process's JIT, connection pools and LDAP connections.
    connect();
    await drive(clients, warmup, `w${s.name}-`, arrivals, replicas);
    await arrivals.settled();
    arrivals.lags = [];

    connect();
    const before = cpuSnapshot(replicas, engine, slapd);
    const t0 = performance.now();
    const writes = await drive(clients, users, `${s.name}-`, arrivals, replicas);
    const written = cpuSnapshot(replicas, engine, slapd);
    await arrivals.settled();
    const deliveredSeconds = (performance.now() - t0) / 1000;
    const delivered = cpuSnapshot(replicas, engine, slapd);
    return {
      writesPerSecond: users / writes.seconds,
      latency: { p50: percentile(writes.latencies, 50), p99: percentile(writes.latencies, 99) },
      lag: { p50: percentile(arrivals.lags, 50), p99: percentile(arrivals.lags, 99) },
      deliveredSeconds,
      writeSeconds: writes.seconds,
      cpuWriting: since(before, written),
      cpuAll: since(before, delivered),
    };
  } finally {
    await arrivals.stop();
    for (const c of clients) c.close();
    await Promise.all(replicas.map((r) => r.stop()));
    removeDir();
    live.delete(removeDir);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = () => loadavg().map((l) => fmt(l)).join(" ");
function report(s: SetUp, r: Result, users: number): void {
  console.log(`  ${s.label}`);
  row("    SCIM writes (POST /Users)", `${fmt(r.writesPerSecond, 0)} writes/s`);
  row("    write latency", `p50 ${fmt(r.latency.p50, 1)} ms, p99 ${fmt(r.latency.p99, 1)} ms`);
  row("    delivery lag (answer to entry found in slapd)", `p50 ${fmt(r.lag.p50, 0)} ms, p99 ${fmt(r.lag.p99, 0)} ms`);
  row("    all in slapd after the first POST", `${fmt(r.deliveredSeconds)} s`);
  const capacity = r.writeSeconds * cpus().length;
  row(`    CPU while the writes ran (share of ${cpus().length} cores)`, [...r.cpuWriting].map(([who, v]) => `${who} ${fmt((100 * v) / capacity, 0)}%`).join(", "));
  // Per user and over all the work (writes and deliveries): other load on the host moves it far
  // less than it moves the rates.
  const own = [...r.cpuAll].filter(([who]) => who !== "other processes" && who !== "idle");
  row("    CPU per user, first POST to all in slapd", own.map(([who, v]) => `${who} ${fmt((1000 * v) / users, 1)} ms`).join(", "));
}

export async function benchReplicas(users = 3000, warmup = 300): Promise<void> {
  let slapd: SlapdHandle | undefined;
  let pg: PostgresServer | undefined;
  let admin: Client | undefined;
  const results = new Map<string, Result>();
  try {
    slapd = await startSlapd();
    pg = await startPostgres();
    admin = await boundClient(slapd);
    console.log(`\nReplicas: ${users.toLocaleString("en")} users per set-up after ${warmup} warm-up, ${CLIENTS} SCIM clients (this process), one slapd, PostgreSQL on 127.0.0.1:${pg.port};`);
    console.log(`  per replica the defaults (storage.pool.max 10, target concurrency 8); load average ${load()}`);
    for (const s of SET_UPS) {
      const r = await runSetUp(s, users, warmup, slapd, admin, pg);
      results.set(s.name, r);
      report(s, r, users);
    }
    const [sqlite, pg1, pg2] = SET_UPS.map((s) => results.get(s.name)!) as [Result, Result, Result];
    row("two replicas / one replica, writes/s", `ratio ${fmt(pg2.writesPerSecond / pg1.writesPerSecond)} (target ≥ 1.6)`);
    row("PostgreSQL single / SQLite single, writes/s", `ratio ${fmt(pg1.writesPerSecond / sqlite.writesPerSecond)} (target ≥ 0.7)`);
    const outside = Math.max(...[sqlite, pg1, pg2].map((r) => (r.cpuWriting.get("other processes") ?? 0) / (r.writeSeconds * cpus().length)));
    if (outside > 0.1) console.log(`  other processes took up to ${fmt(100 * outside, 0)}% of the CPU during the writes: the set-ups ran under different outside load`);
    console.log(`  load average at the end ${load()}`);
  } finally {
    await admin?.unbind().catch(() => undefined);
    await pg?.stop().catch(() => undefined);
    await slapd?.stop().catch(() => undefined);
  }
}
