/**
 * A throwaway PostgreSQL: Debian's server binaries, a cluster in a temp dir, one postmaster on a
 * free 127.0.0.1 port. Free of the test framework, so the benchmark (bench/replicas.ts) starts the
 * same server the tests do; test/harness/postgres.ts adds the vitest wiring (usePostgres).
 *
 * - initdb refuses to run as root (it would make the cluster's files root's), so as root both
 *   initdb and postgres run as the `postgres` system user through setpriv, which execs: the PID we
 *   hold is the postmaster's own. runuser would stay as a parent process, so signals would reach
 *   runuser rather than PostgreSQL.
 * - Durability is turned off (fsync, synchronous_commit, full_page_writes): a test cluster that an
 *   OS crash corrupts costs nothing, and every commit stops waiting for the disk
 *   (https://www.postgresql.org/docs/15/non-durability.html).
 * - The postmaster's children call setsid(), so they are not in its process group: a crash
 *   (kill()) or our own exit kills the postmaster and the children it had, found in /proc.
 * - When PostgreSQL is not installed or does not come up, start fails with the reason and
 *   PostgreSQL's own log, never a silent skip.
 */
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { chown, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Client } from "pg";
import { freePort } from "../../hooks/ldap/slapd.js";
import { installExitHandlers, live } from "./process-group.js";

const run = promisify(execFile);

export interface PostgresOptions {
  /** Extra `-c name=value` server settings, over the harness's defaults. */
  settings?: Record<string, string | number>;
  /** How long to wait for the first successful query after each (re)start. Default 15 s. */
  readyTimeoutMs?: number;
}

export interface PostgresServer {
  /** postgres:// URL of the bootstrap superuser (password authentication) on database `postgres`. */
  url: string;
  host: "127.0.0.1";
  port: number;
  user: string;
  password: string;
  /** The instance directory (data/, sock/); removed by stop(). */
  dir: string;
  /** The running postmaster's PID (a new one after restart()). */
  readonly pid: number;
  /** Creates a database (a fresh name unless given) from template0 and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Fast shutdown (clients disconnected, checkpoint written), then a start on the same data dir and port. */
  restart(): Promise<void>;
  /**
   * A crash: SIGKILL to the postmaster and its children, no shutdown checkpoint; restart() runs
   * crash recovery. With the default synchronous_commit=off, commits of the last wal_writer_delay
   * (200 ms) can be lost: a test asserting that nothing committed is lost sets it to on (in
   * `settings` or per session). fsync=off is no risk here: written WAL is in the OS page cache,
   * which outlives the process.
   */
  kill(): Promise<void>;
  /** Fast shutdown (SIGKILL if it hangs), then removes the directory. Idempotent. */
  stop(): Promise<void>;
  /** The last `lines` lines PostgreSQL logged (for failure messages). */
  logTail(lines?: number): string;
}

const USER = "scimbridge";
const MISSING = "PostgreSQL server not installed (no initdb/postgres under /usr/lib/postgresql/*/bin): run `bash scripts/install-system-deps.sh` as root, or apt-get install -y postgresql";

/** The newest Debian PostgreSQL bin dir holding both initdb and postgres. */
export function findPostgresBin(): string | undefined {
  const base = "/usr/lib/postgresql";
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, "bin", "initdb")) && existsSync(join(base, v, "bin", "postgres")))
    .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
  return versions[0] === undefined ? undefined : join(base, versions[0], "bin");
}

/** Starts a throwaway cluster and resolves once its superuser can run a query. */
export async function startPostgres(opts: PostgresOptions = {}): Promise<PostgresServer> {
  const bin = findPostgresBin();
  if (!bin) throw new Error(MISSING);
  const owner = process.getuid?.() === 0 ? await systemUser("postgres") : undefined;
  const dir = await mkdtemp(join(tmpdir(), "scimbridge-pg-"));
  const password = randomBytes(18).toString("base64url");
  const data = join(dir, "data");
  const sock = join(dir, "sock");
  const log: string[] = [];
  let cluster: Cluster | undefined;
  try {
    await mkdir(sock, { mode: 0o700 });
    const pwfile = join(dir, "pwfile");
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (owner) for (const p of [dir, sock, pwfile]) await chown(p, owner.uid, owner.gid);
    // --no-locale (C collation): text compares byte-wise, as SQLite's BINARY does, so ISO-8601
    // timestamps and folded keys order the same on both engines. scram-sha-256 on TCP, so the URL's
    // password is really checked; trust on the private socket only.
    await asUser(owner, join(bin, "initdb"), [
      "-D", data, "-U", USER, `--pwfile=${pwfile}`, "--auth-local=trust", "--auth-host=scram-sha-256",
      "--no-locale", "-E", "UTF8", "--no-sync", "--no-instructions",
    ]);
    await rm(pwfile, { force: true });
    const settings: Record<string, string | number> = {
      listen_addresses: "127.0.0.1",
      unix_socket_directories: sock,
      fsync: "off",
      synchronous_commit: "off",
      full_page_writes: "off",
      max_connections: 200,
      ...opts.settings,
    };
    const readyMs = opts.readyTimeoutMs ?? 15_000;
    // A port picked by binding port 0 can be taken again before the postmaster binds it: retry.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      cluster = new Cluster({ bin, data, dir, owner, port, password, settings, log });
      try {
        await cluster.start(readyMs);
        break;
      } catch (e) {
        if (!(e instanceof PortInUse) || attempt >= 3) throw e;
      }
    }
  } catch (e) {
    await cluster?.halt("SIGKILL");
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  const c = cluster;
  const url = c.url("postgres");
  let stopped: Promise<void> | undefined;
  return {
    url,
    host: "127.0.0.1",
    port: c.port,
    user: USER,
    password,
    dir,
    get pid() {
      return c.pid;
    },
    async createDatabase(name = `t_${randomBytes(6).toString("hex")}`) {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`createDatabase: not a plain lower-case identifier: ${name}`);
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        // template0: never template1, which a test may have written to (CREATE DATABASE docs).
        await client.query(`CREATE DATABASE "${name}" TEMPLATE template0`);
      } finally {
        await client.end();
      }
      return c.url(name);
    },
    async restart() {
      if (stopped) throw new Error("restart() after stop(): the data directory is gone");
      await c.halt("SIGINT");
      await c.start(opts.readyTimeoutMs ?? 15_000);
    },
    kill: () => c.halt("SIGKILL"),
    stop: () =>
      (stopped ??= (async () => {
        await c.halt("SIGINT");
        await rm(dir, { recursive: true, force: true });
      })()),
    logTail: (lines = 40) => log.slice(-lines).join("\n"),
  };
}

interface Owner {
  uid: number;
  gid: number;
}

async function systemUser(name: string): Promise<Owner> {
  try {
    const [uid, gid] = await Promise.all([run("id", ["-u", name]), run("id", ["-g", name])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    throw new Error(`running as root, and initdb refuses root: the system user "${name}" (made by the postgresql package) is missing`);
  }
}

/** argv to run `cmd` as the owner (setpriv execs, keeping the PID) or as ourselves. */
function argv(owner: Owner | undefined, cmd: string, args: string[]): [string, string[]] {
  if (!owner) return [cmd, args];
  return ["setpriv", [`--reuid=${owner.uid}`, `--regid=${owner.gid}`, "--clear-groups", "--", cmd, ...args]];
}

async function asUser(owner: Owner | undefined, cmd: string, args: string[]): Promise<void> {
  const [file, list] = argv(owner, cmd, args);
  try {
    await run(file, list, { env: serverEnv() });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} failed: ${[err.stderr, err.stdout].filter(Boolean).join("\n").trim() || err.message}`);
  }
}

/** A small, fixed environment: nothing of the test process's PG* variables reaches the server. */
function serverEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", TZ: "UTC" };
}

class PortInUse extends Error {}

interface ClusterArgs {
  bin: string;
  data: string;
  dir: string;
  owner: Owner | undefined;
  port: number;
  password: string;
  settings: Record<string, string | number>;
  /** Shared across restarts: PostgreSQL's stderr, the last 400 lines. */
  log: string[];
}

/** One data directory and port; start() and halt() may alternate any number of times. */
class Cluster {
  pid = 0;
  private running = false;
  private cleanup: (() => void) | undefined;

  constructor(private readonly a: ClusterArgs) {}

  get port(): number {
    return this.a.port;
  }

  url(database: string): string {
    return `postgres://${USER}:${encodeURIComponent(this.a.password)}@127.0.0.1:${this.a.port}/${database}`;
  }

  async start(readyMs: number): Promise<void> {
    if (this.running) throw new Error("PostgreSQL is already running");
    const settings = Object.entries(this.a.settings).flatMap(([k, v]) => ["-c", `${k}=${v}`]);
    const [file, args] = argv(this.a.owner, join(this.a.bin, "postgres"), ["-D", this.a.data, "-p", String(this.a.port), ...settings]);
    const child = spawn(file, args, { stdio: ["ignore", "ignore", "pipe"], env: serverEnv() });
    child.stderr?.setEncoding("utf8").on("data", (s: string) => {
      this.a.log.push(...s.split("\n").filter((l) => l !== ""));
      if (this.a.log.length > 400) this.a.log.splice(0, this.a.log.length - 400);
    });
    const exited = new Promise<void>((resolve) => {
      const done = (): void => {
        this.running = false;
        resolve();
      };
      child.once("exit", done).once("error", (e) => {
        this.a.log.push(`spawn error: ${e.message}`);
        done();
      });
    });
    if (child.pid === undefined) {
      await exited;
      throw new Error(`could not spawn ${file}: ${this.a.log.slice(-5).join("\n")}`);
    }
    this.running = true;
    this.pid = child.pid;
    const pid = child.pid;
    const dir = this.a.dir;
    // Synchronous, as "exit" handlers must be: the cluster and its directory go with us.
    this.cleanup = () => {
      for (const p of [pid, ...childrenOf(pid)]) signal(p, "SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    };
    live.add(this.cleanup);
    installExitHandlers();
    try {
      await this.waitReady(readyMs);
    } catch (e) {
      const tail = this.a.log.slice(-40).join("\n");
      await this.halt("SIGKILL");
      if (/could not bind IPv4 address|Address already in use/i.test(tail)) throw new PortInUse(`port ${this.a.port} in use`);
      throw new Error(`PostgreSQL did not become ready on 127.0.0.1:${this.a.port}: ${(e as Error).message}\nPostgreSQL log:\n${tail}`);
    }
  }

  /**
   * SIGINT is PostgreSQL's fast shutdown (sessions ended, checkpoint written); SIGKILL is a crash,
   * so it also kills the postmaster's children, which would otherwise linger on their sessions
   * and keep the data dir's shared memory in use. Resolves once every one of them is gone.
   */
  async halt(sig: "SIGINT" | "SIGKILL"): Promise<void> {
    if (this.running) {
      const procs = [this.pid, ...childrenOf(this.pid)];
      if (sig === "SIGKILL") for (const p of procs) signal(p, "SIGKILL");
      else signal(this.pid, sig);
      if (!(await until(() => !this.running, 10_000))) {
        for (const p of [this.pid, ...childrenOf(this.pid), ...procs]) signal(p, "SIGKILL");
        await until(() => !this.running, 5_000);
      }
      await until(() => procs.every((p) => !processAlive(p)), 5_000);
    }
    if (this.cleanup) live.delete(this.cleanup);
    this.cleanup = undefined;
  }

  /** Polls with a real login and query (the postmaster accepts connections before recovery ends: 57P03). */
  private async waitReady(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    let last = "no attempt";
    while (Date.now() < deadline) {
      if (!this.running) throw new Error("postgres exited during start-up");
      const client = new Client({ connectionString: this.url("postgres"), connectionTimeoutMillis: 1000 });
      client.on("error", () => undefined); // a connection dropped by a start-up failure: the query rejects too
      try {
        await client.connect();
        await client.query("SELECT 1");
        return;
      } catch (e) {
        if ((e as { code?: string }).code === "28P01") throw e; // a wrong password will not get better
        last = (e as Error).message;
      } finally {
        await client.end().catch(() => undefined);
      }
      await sleep(50);
    }
    throw new Error(`timed out after ${ms} ms (last error: ${last})`);
  }
}

/** PIDs whose parent is `pid` (/proc/<pid>/stat field 4), read before a crash orphans them. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/** Whether a process runs. A zombie (exited, not yet reaped by a parent that is not us, e.g. an
 *  orphaned backend under a container's PID 1) counts as gone: its state in /proc/<pid>/stat is Z. */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0 probes without sending anything
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat[stat.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return false; // gone between the probe and the read
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // ESRCH: already gone
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}
