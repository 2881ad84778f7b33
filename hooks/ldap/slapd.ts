/**
 * A slapd (OpenLDAP 2.5) that this Node process owns: the test harness's real directory and the
 * embedded default's directory (kept under ./data/slapd across restarts).
 *
 * The recipe follows slapd-config(5): cn=config and the base tree are loaded offline with
 * slapadd, then `slapd -d none` runs in the foreground as our child, so its PID is ours to stop and
 * it dies with us. https://www.openldap.org/software/man.cgi?query=slapd-config&sektion=5&manpath=OpenLDAP+2.5-Release
 */
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { delimiter, join } from "node:path";
import { hostname, tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Client, ResultCodeError } from "ldapts";

const run = promisify(execFile);

export type SlapdSchema = "pingdirectory";

export interface SlapdOptions {
  /** Instance directory. Default: a fresh temp dir, removed by stop(). A given dir is kept, and
   *  reused as-is when it already holds a configured instance. */
  dir?: string;
  /** ldap:// port on 127.0.0.1; 0 or omitted picks a free one. */
  port?: number;
  /** Also serve ldaps:// (0 picks a free port) with a self-signed EC certificate. */
  ldapsPort?: number;
  /** Default dc=example,dc=com; must start with a dc= RDN. */
  suffix?: string;
  /** Root DN password. Default: random. Required with a caller-given dir (it is stored hashed). */
  rootPassword?: string;
  /** Extra schemas from hooks/ldap/slapd/ (applied when the instance is created). */
  schemas?: SlapdSchema[];
  /** LDIF text loaded offline with slapadd when the instance is created (seed data). */
  extraLdif?: string;
  /** How long to wait for the first successful bind. Default 5000 ms. */
  readyTimeoutMs?: number;
  /** slapd binary; default findSlapd(). slapadd is looked up next to it. */
  slapdPath?: string;
}

export interface SlapdHandle {
  url: string;
  ldapsUrl?: string;
  /** PEM of the self-signed server certificate (its own CA) when LDAPS is on. */
  caFile?: string;
  port: number;
  ldapsPort?: number;
  suffix: string;
  rootDn: string;
  rootPassword: string;
  dir: string;
  pid: number;
  /** SIGTERM, wait (bounded), SIGKILL; removes the dir unless the caller gave it. Idempotent. */
  stop(): Promise<void>;
  /** Send a signal (default SIGKILL) without waiting or cleaning up: fault injection. */
  kill(signal?: NodeJS.Signals): void;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
}

const SLAPD_MISSING = "slapd not found: install it with `apt-get install slapd ldap-utils` (Debian)";

/** Finds the slapd binary: Debian's /usr/sbin/slapd first, then PATH. */
export function findSlapd(): string | undefined {
  const dirs = ["/usr/sbin", "/usr/local/sbin", ...(process.env.PATH ?? "").split(delimiter)];
  for (const d of dirs) {
    if (d && existsSync(join(d, "slapd"))) return join(d, "slapd");
  }
  return undefined;
}

/** Starts a slapd on 127.0.0.1 and resolves once a root bind succeeds. */
export async function startSlapd(opts: SlapdOptions = {}): Promise<SlapdHandle> {
  const slapd = opts.slapdPath ?? findSlapd();
  if (!slapd || !existsSync(slapd)) throw new Error(SLAPD_MISSING);
  const slapadd = join(slapd, "..", "slapadd");
  const suffix = opts.suffix ?? "dc=example,dc=com";
  const dc = /^dc=([^,]+)/i.exec(suffix)?.[1];
  if (!dc) throw new Error(`slapd suffix must start with a dc= RDN: ${suffix}`);
  if (opts.dir && opts.rootPassword === undefined) {
    throw new Error("startSlapd: rootPassword is required with a persistent dir (only its hash is stored)");
  }
  const ownsDir = !opts.dir;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), "scimbridge-slapd-")));
  const rootDn = `cn=admin,${suffix}`;
  const rootPassword = opts.rootPassword ?? randomBytes(18).toString("base64url");
  try {
    const configured = existsSync(join(dir, "slapd.d", "cn=config.ldif"));
    const tls = opts.ldapsPort !== undefined;
    if (!configured) {
      await createInstance({ dir, slapadd, suffix, dc, rootDn, rootPassword, tls, opts }).catch(async (e: unknown) => {
        // half-loaded would pass for "configured" next time: undo in a caller's dir too
        for (const sub of ["slapd.d", "data"]) await rm(join(dir, sub), { recursive: true, force: true });
        throw e;
      });
    } else if (tls) {
      await reuseTls(dir);
    }
    // Ports picked by binding port 0 can be taken again before slapd binds them: retry with fresh ones.
    for (let attempt = 1; ; attempt++) {
      const port = opts.port || (await freePort());
      const ldapsPort = tls ? opts.ldapsPort || (await freePort()) : undefined;
      try {
        return await launch({ slapd, dir, ownsDir, port, ldapsPort, suffix, rootDn, rootPassword, readyMs: opts.readyTimeoutMs ?? 5000 });
      } catch (e) {
        const retryable = e instanceof PortInUse && (!opts.port || (tls && !opts.ldapsPort));
        if (!retryable || attempt >= 3) throw e;
      }
    }
  } catch (e) {
    if (ownsDir) await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

class PortInUse extends Error {}

interface CreateArgs {
  dir: string;
  slapadd: string;
  suffix: string;
  dc: string;
  rootDn: string;
  rootPassword: string;
  tls: boolean;
  opts: SlapdOptions;
}

async function createInstance(a: CreateArgs): Promise<void> {
  await mkdir(join(a.dir, "slapd.d"), { recursive: true });
  await mkdir(join(a.dir, "data"), { recursive: true });
  const templates = templateDir();
  let tlsLines = "";
  if (a.tls) {
    await makeCert(a.dir);
    tlsLines = `olcTLSCertificateFile: ${join(a.dir, "server.crt")}\nolcTLSCertificateKeyFile: ${join(a.dir, "server.key")}`;
  }
  const includes: string[] = [];
  for (const s of a.opts.schemas ?? []) {
    // Copied into the instance so the included path stays valid whatever happens to the sources.
    const target = join(a.dir, `${s}.ldif`);
    await writeFile(target, await readFile(join(templates, `${s}.ldif`)));
    includes.push(`include: file://${target}`);
  }
  const vars: Record<string, string> = {
    DIR: a.dir,
    SUFFIX: a.suffix,
    ROOTDN: a.rootDn,
    ROOTPW_HASH: ssha(a.rootPassword),
    DC: a.dc,
  };
  const config = render(await readFile(join(templates, "config.ldif.in"), "utf8"), vars, {
    TLS_GLOBAL: tlsLines,
    SCHEMA_INCLUDES: includes.join("\n"),
    // With the PingDirectory stand-in schema, an entry with ds-pwp-account-disabled: TRUE cannot
    // bind, as on PingDirectory (pd_sec_ext_modif_user_attrs): slapd has no such policy state, so
    // an ACL refuses the password's auth access (slapd.access(5) filter=), and a bind is 49.
    ACCESS_BEFORE: a.opts.schemas?.includes("pingdirectory") ? "olcAccess: to attrs=userPassword filter=(ds-pwp-account-disabled=TRUE) by * none" : "",
  });
  await writeFile(join(a.dir, "config.ldif"), config, { mode: 0o600 });
  await writeFile(join(a.dir, "base.ldif"), render(await readFile(join(templates, "base.ldif.in"), "utf8"), vars, {}));
  const conf = join(a.dir, "slapd.d");
  await slapaddRun(a.slapadd, ["-q", "-n0", "-F", conf, "-l", join(a.dir, "config.ldif")]);
  await slapaddRun(a.slapadd, ["-q", "-F", conf, "-b", a.suffix, "-l", join(a.dir, "base.ldif")]);
  if (a.opts.extraLdif) {
    const seed = join(a.dir, "seed.ldif");
    await writeFile(seed, a.opts.extraLdif);
    await slapaddRun(a.slapadd, ["-q", "-F", conf, "-b", a.suffix, "-l", seed]);
    await rm(seed, { force: true });
  }
}

async function slapaddRun(slapadd: string, args: string[]): Promise<void> {
  try {
    await run(slapadd, args);
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`slapadd ${args.join(" ")} failed: ${(err.stderr ?? err.message).trim()}`);
  }
}

/** A dir created without LDAPS has no TLS in cn=config; refuse rather than start half-configured. */
async function reuseTls(dir: string): Promise<void> {
  const cfg = await readFile(join(dir, "slapd.d", "cn=config.ldif"), "utf8");
  if (!/olcTLSCertificateFile/i.test(cfg)) {
    throw new Error(`slapd instance in ${dir} was created without LDAPS; start it without ldapsPort or use a new dir`);
  }
  // Renew a certificate that expires within a day (or is gone); the paths in cn=config stay.
  const crt = join(dir, "server.crt");
  const fresh = existsSync(crt) && (await run("openssl", ["x509", "-checkend", "86400", "-noout", "-in", crt]).then(() => true, () => false));
  if (!fresh) await makeCert(dir);
}

/** Self-signed EC P-256 certificate (fast to generate), SAN covering how clients reach loopback. */
async function makeCert(dir: string): Promise<void> {
  const san = `subjectAltName=DNS:localhost,DNS:${hostname()},IP:127.0.0.1`;
  try {
    await run("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-keyout", join(dir, "server.key"), "-out", join(dir, "server.crt"),
      "-days", "365", "-subj", "/CN=localhost", "-addext", san,
    ]);
  } catch (e) {
    throw new Error(`openssl could not create the slapd TLS certificate: ${(e as Error).message}`);
  }
}

interface LaunchArgs {
  slapd: string;
  dir: string;
  ownsDir: boolean;
  port: number;
  ldapsPort: number | undefined;
  suffix: string;
  rootDn: string;
  rootPassword: string;
  readyMs: number;
}

async function launch(a: LaunchArgs): Promise<SlapdHandle> {
  const url = `ldap://127.0.0.1:${a.port}`;
  const ldapsUrl = a.ldapsPort ? `ldaps://127.0.0.1:${a.ldapsPort}` : undefined;
  const urls = [url, ldapsUrl].filter(Boolean).map((u) => `${u}/`).join(" ");
  // -d keeps slapd in the foreground (no fork, so the PID is our child's). Level "none" logs only
  // the messages slapd prints whatever the level (e.g. "bind(6) failed ... Address already in use"),
  // never per-operation lines (slapd.conf(5), loglevel).
  const child = spawn(a.slapd, ["-d", "none", "-F", join(a.dir, "slapd.d"), "-h", urls], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (s: string) => {
    stderr = (stderr + s).slice(-4000);
  });
  let exitedFlag = false;
  const exited = new Promise<void>((resolve) => {
    const done = (): void => {
      exitedFlag = true;
      live.delete(child);
      resolve();
    };
    child.once("exit", done).once("error", done); // "error": the binary could not be spawned
  });
  if (child.pid === undefined) {
    await exited;
    throw new Error(`could not spawn ${a.slapd}`);
  }
  live.set(child, a.ownsDir ? a.dir : undefined);
  installExitHandlers();

  const terminate = async (): Promise<void> => {
    if (exitedFlag) return;
    child.kill("SIGTERM");
    if (!(await within(exited, 5000))) {
      child.kill("SIGKILL");
      await within(exited, 2000);
    }
  };
  const stop = async (): Promise<void> => {
    await terminate();
    if (a.ownsDir) await rm(a.dir, { recursive: true, force: true });
  };

  try {
    await waitReady(url, a.rootDn, a.rootPassword, a.readyMs, () => exitedFlag);
  } catch (e) {
    // the dir stays: startSlapd may retry on other ports, and removes an owned dir if it gives up
    await terminate();
    if (/Address already in use|bind\(.*\) failed/i.test(stderr)) throw new PortInUse(`slapd: port in use (${urls})`);
    const detail = stderr.trim() ? `\nslapd stderr:\n${stderr.trim()}` : "";
    throw new Error(`slapd did not become ready on ${url}: ${(e as Error).message}${detail}`);
  }
  return {
    url,
    ldapsUrl,
    caFile: ldapsUrl ? join(a.dir, "server.crt") : undefined,
    port: a.port,
    ldapsPort: a.ldapsPort,
    suffix: a.suffix,
    rootDn: a.rootDn,
    rootPassword: a.rootPassword,
    dir: a.dir,
    pid: child.pid,
    stop,
    kill: (signal: NodeJS.Signals = "SIGKILL") => {
      if (!exitedFlag) child.kill(signal);
    },
    exited,
  };
}

/** Polls with a real bind (not just a TCP connect): slapd accepts connections before the
 *  backend is open. Bounded by `ms`. A result code such as 49 ends the wait at once. */
async function waitReady(url: string, dn: string, pw: string, ms: number, dead: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    if (dead()) throw new Error("slapd exited during start-up");
    const client = new Client({ url, connectTimeout: 500, timeout: 1000 });
    try {
      await client.bind(dn, pw);
      return;
    } catch (e) {
      if (e instanceof ResultCodeError) throw e;
      last = e;
    } finally {
      // a failed bind keeps the socket open (ldap-targets.md §4.2 measured it), so always unbind
      await client.unbind().catch(() => undefined);
    }
    await sleep(10);
  }
  throw new Error(`timed out after ${ms} ms (${(last as Error | undefined)?.message ?? "no answer"})`);
}

// --- children die with us ------------------------------------------------------------------------

/** Running children, with the temp dir each owns (removed with it). */
const live = new Map<ChildProcess, string | undefined>();
let handlersInstalled = false;

/** Synchronous, as 'exit' handlers must be: SIGTERM (slapd then shuts down on its own) and rm. */
function killAllNow(): void {
  for (const [child, ownedDir] of live) {
    child.kill("SIGTERM");
    if (ownedDir) rmSync(ownedDir, { recursive: true, force: true });
  }
  live.clear();
}

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", killAllNow);
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    const onSignal = (): void => {
      killAllNow();
      // Any listener disables Node's default "terminate on signal"; when ours was the only one,
      // re-raise so the process still ends as the user asked.
      process.removeListener(sig, onSignal);
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

// --- small helpers ---------------------------------------------------------------------------------

function templateDir(): string {
  const beside = fileURLToPath(new URL("./slapd/", import.meta.url));
  if (existsSync(join(beside, "config.ldif.in"))) return beside;
  // Compiled into dist/hooks/ldap/: tsc does not copy .ldif files, the package ships the sources.
  const source = fileURLToPath(new URL("../../../hooks/ldap/slapd/", import.meta.url));
  if (existsSync(join(source, "config.ldif.in"))) return source;
  throw new Error(`slapd templates not found next to ${beside}`);
}

/** Replaces @NAME@ in values and whole-line @BLOCK@ placeholders (dropped when empty). */
function render(text: string, vars: Record<string, string>, blocks: Record<string, string>): string {
  return text
    .split("\n")
    .flatMap((line) => {
      const block = /^@([A-Z_]+)@$/.exec(line)?.[1];
      if (block !== undefined && block in blocks) return blocks[block] ? [blocks[block]] : [];
      return [line.replace(/@([A-Z_]+)@/g, (m, k: string) => vars[k] ?? m)];
    })
    .join("\n");
}

/** {SSHA} as slappasswd(8) makes it: base64(SHA-1(password + salt) + salt). */
function ssha(password: string): string {
  const salt = randomBytes(8);
  const digest = createHash("sha1").update(password).update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString("base64")}`;
}

/** A free loopback port: bind port 0, read the port, close. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function within(p: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
