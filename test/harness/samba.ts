/**
 * A real Active Directory for tests: a throwaway Samba AD DC (Debian's samba-ad-dc 4.17) on
 * loopback, LDAP/LDAPS only. `const ad = useSambaAd()` starts it in beforeAll and stops it (and
 * removes its directory) in afterAll.
 *
 * - Provisioning (`samba-tool domain provision`, about 5 s) runs once per realm/password/Samba
 *   version: the result is cached as a tarball under os.tmpdir(), and later starts unpack it (about
 *   0.3 s). smb.conf is the only provisioned file holding absolute paths, so it is stored as a
 *   template and rendered for each run's directory.
 * - Each start writes its own certificate with SAN IP:127.0.0.1 (Samba's self-generated one has a
 *   CN only), so clients keep certificate verification on with `ca` = that certificate.
 * - Samba runs in the foreground as our child in its own process group (`detached`, and
 *   `--no-process-group` so it does not try to make one itself); stop() signals the whole group, so
 *   none of its prefork workers survive. A process "exit" hook SIGKILLs the group if we die first.
 * - Samba binds the fixed ports 389/636/3268/3269, so only one DC can run per machine: a lock file
 *   in os.tmpdir() serialises starts across test files and processes.
 * - It needs root (ports below 1024) and the packages samba-ad-dc samba-ad-provision
 *   samba-dsdb-modules winbind (scripts/install-system-deps.sh). When any of that is missing, or the
 *   ports are busy, start fails with the reason (and Samba's log tail): AD tests never skip silently.
 */
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Client, EqualityFilter, type Filter } from "ldapts";
import { afterAll, beforeAll } from "vitest";
import { normalizeEntry } from "../../hooks/ldap/executor.js";
import { acquireLock, busyPorts, installExitHandlers, live, signalGroup, waitGroupGone } from "./process-group.js";

const run = promisify(execFile);

export interface SambaAdOptions {
  /** Default TEST.EXAMPLE.COM (base DN DC=test,DC=example,DC=com). */
  realm?: string;
  /** NetBIOS domain name. Default TEST. */
  domain?: string;
  /** Administrator password; must meet Samba's default complexity policy. */
  adminPassword?: string;
  /** Skip the cached template and provision afresh (the new result replaces the cache). */
  fresh?: boolean;
  /** How long to wait for the first admin bind over LDAPS. Default 30 s. */
  readyTimeoutMs?: number;
  /** How long to wait for another DC (another test file or process) to stop. Default 150 s. */
  lockTimeoutMs?: number;
}

export interface SambaAd {
  /** ldaps://127.0.0.1:636 */
  url: string;
  /** ldap://127.0.0.1:389 (plain simple binds are refused: 8 strongAuthRequired). */
  plainUrl: string;
  /** PEM file of the server certificate (its own CA); verify with it. */
  caFile: string;
  realm: string;
  domain: string;
  /** DC=test,DC=example,DC=com */
  baseDn: string;
  /** CN=Users,<baseDn> */
  usersDn: string;
  /** CN=Administrator,CN=Users,<baseDn>: a DN, as target bindDn requires. */
  adminDn: string;
  /** Administrator@test.example.com */
  adminUpn: string;
  adminPassword: string;
  dir: string;
  pid: number;
  /** Whether this start restored the cached template (false: provisioned now). */
  fromTemplate: boolean;
  /** Milliseconds from start() to the first successful admin bind. */
  startMs: number;
  /** A new ldapts Client bound as Administrator over verified LDAPS; the caller unbinds it. */
  connect(): Promise<Client>;
  /** Binds `name` (DN or UPN) with `password` on a fresh connection; resolves, or rejects with the ldapts error. */
  bindAs(name: string, password: string): Promise<void>;
  /** The last `lines` lines of Samba's log (for failure messages). */
  logTail(lines?: number): string;
  /** SIGTERM to the process group, bounded wait, SIGKILL; removes the dir; releases the lock. Idempotent. */
  stop(): Promise<void>;
}

export const SAMBA_DEFAULTS = { realm: "TEST.EXAMPLE.COM", domain: "TEST", adminPassword: "Passw0rd!Adm1n" } as const;
const LDAP_PORTS = [389, 636, 3268, 3269];
const LOCK_FILE = join(tmpdir(), "scimbridge-samba-ad.lock");
const DIR_PLACEHOLDER = "@SAMBA_DIR@";
/** Bump when the template layout changes, so stale caches are not reused. */
const TEMPLATE_FORMAT = 1;

export function findSambaBinary(name: "samba" | "samba-tool"): string | undefined {
  const dirs = ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", ...(process.env.PATH ?? "").split(":")];
  for (const d of dirs) if (d && existsSync(join(d, name))) return join(d, name);
  return undefined;
}

/**
 * Starts a Samba AD DC on loopback and resolves once the Administrator can bind over LDAPS. When a
 * start from the cached template fails, the cache is dropped and one fresh provision is tried, so
 * a bad cache never fails every later run.
 */
export async function startSambaAd(opts: SambaAdOptions = {}): Promise<SambaAd> {
  try {
    return await startOnce(opts);
  } catch (e) {
    if (!(e instanceof TemplateStartError)) throw e;
    rmSync(e.template, { force: true });
    try {
      return await startOnce({ ...opts, fresh: true });
    } catch (again) {
      throw new Error(`${(again as Error).message}\n(an earlier start from the cached template ${e.template} also failed: ${e.message})`);
    }
  }
}

class TemplateStartError extends Error {
  constructor(
    message: string,
    readonly template: string,
  ) {
    super(message);
  }
}

async function startOnce(opts: SambaAdOptions): Promise<SambaAd> {
  const realm = (opts.realm ?? SAMBA_DEFAULTS.realm).toUpperCase();
  const domain = opts.domain ?? SAMBA_DEFAULTS.domain;
  const adminPassword = opts.adminPassword ?? SAMBA_DEFAULTS.adminPassword;
  const samba = findSambaBinary("samba");
  const sambaTool = findSambaBinary("samba-tool");
  if (!samba || !sambaTool) {
    throw new Error("Samba AD DC not installed (samba / samba-tool not found): run `bash scripts/install-system-deps.sh` as root, or apt-get install -y samba-ad-dc samba-ad-provision samba-dsdb-modules winbind");
  }
  if (process.getuid?.() !== 0) throw new Error("Samba AD DC needs root: it binds ports 389/636/3268/3269 (run the AD tests as root, as CI does)");

  const t0 = Date.now();
  const releaseLock = await acquireLock(LOCK_FILE, opts.lockTimeoutMs ?? 150_000);
  let dir: string | undefined;
  let child: ChildProcess | undefined;
  let template: string | undefined;
  let fromTemplate = false;
  const output: string[] = [];
  try {
    const busy = await busyPorts(LDAP_PORTS);
    if (busy.length) {
      throw new Error(`Samba AD DC cannot start: 127.0.0.1 port(s) ${busy.join(", ")} already in use (a system samba/slapd? \`ss -ltnp\` shows which; stop it, e.g. \`service samba-ad-dc stop\`)`);
    }
    dir = await mkdtemp(join(tmpdir(), "scimbridge-samba-"));
    const version = (await run(samba, ["--version"])).stdout.trim();
    const key = createHash("sha256").update(JSON.stringify([TEMPLATE_FORMAT, realm, domain, adminPassword, version])).digest("hex").slice(0, 16);
    template = join(tmpdir(), `scimbridge-samba-template-${key}.tar.gz`);
    if (!opts.fresh && existsSync(template)) {
      try {
        await run("tar", ["-xzf", template, "-C", dir]);
        fromTemplate = true;
      } catch {
        // A truncated or foreign cache: provision afresh and replace it.
        await rm(dir, { recursive: true, force: true });
        await mkdir(dir);
      }
    }
    if (!fromTemplate) await provision(sambaTool, dir, { realm, domain, adminPassword }, template);
    await renderConfig(dir);
    await writeCertificate(dir, realm);

    const caFile = join(dir, "tls", "cert.pem");
    const ca = readFileSync(caFile);
    child = spawn(samba, ["-F", "--no-process-group", "-s", join(dir, "etc", "smb.conf")], {
      detached: true, // own process group: stop() signals every Samba process at once
      stdio: ["ignore", "pipe", "pipe"],
    });
    const collect = (b: Buffer) => {
      output.push(b.toString());
      if (output.length > 200) output.splice(0, output.length - 200);
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    const proc = child;
    let exited = false;
    const exitedPromise = new Promise<void>((resolve) => {
      proc.once("exit", () => {
        exited = true;
        resolve();
      });
      proc.once("error", (e) => {
        output.push(`spawn error: ${e.message}`);
        exited = true;
        resolve();
      });
    });
    const pid = proc.pid;
    if (pid === undefined) {
      await exitedPromise;
      throw new Error(`could not spawn ${samba}: ${output.join("")}`);
    }
    const instanceDir = dir;
    const killGroupNow = () => {
      signalGroup(pid, "SIGKILL");
      rmSync(instanceDir, { recursive: true, force: true });
      releaseLock();
    };
    live.add(killGroupNow);
    installExitHandlers();

    const baseDn = realm.split(".").map((p) => `DC=${p.toLowerCase()}`).join(",");
    const adminDn = `CN=Administrator,CN=Users,${baseDn}`;
    const url = "ldaps://127.0.0.1:636";
    const newClient = () => new Client({ url, tlsOptions: { ca: [ca] }, timeout: 10_000, connectTimeout: 2_000 });
    const logTail = (lines = 40) => tail(instanceDir, output, lines);

    let stopped: Promise<void> | undefined;
    const stop = () =>
      (stopped ??= (async () => {
        if (!exited) {
          signalGroup(pid, "SIGTERM");
          if (!(await waitGroupGone(pid, exitedPromise, 10_000))) {
            signalGroup(pid, "SIGKILL");
            await waitGroupGone(pid, exitedPromise, 5_000);
          }
        } else {
          // The root process is gone; make sure no worker of its group lingers.
          signalGroup(pid, "SIGKILL");
        }
        live.delete(killGroupNow);
        await rm(instanceDir, { recursive: true, force: true });
        releaseLock();
      })());

    const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
    let lastError = "no attempt";
    for (;;) {
      if (exited) {
        const log = logTail();
        await stop();
        throw new Error(`samba exited before LDAPS answered (exit code ${proc.exitCode ?? proc.signalCode}); log tail:\n${log}`);
      }
      const c = newClient();
      try {
        await c.bind(adminDn, adminPassword);
        await c.search(baseDn, { scope: "base", attributes: ["1.1"] });
        break;
      } catch (e) {
        lastError = (e as Error).message;
      } finally {
        await c.unbind().catch(() => undefined);
      }
      if (Date.now() > deadline) {
        const log = logTail();
        await stop();
        throw new Error(`Samba AD DC did not answer an LDAPS admin bind within ${opts.readyTimeoutMs ?? 30_000} ms (last error: ${lastError}); log tail:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }

    return {
      url,
      plainUrl: "ldap://127.0.0.1:389",
      caFile,
      realm,
      domain,
      baseDn,
      usersDn: `CN=Users,${baseDn}`,
      adminDn,
      adminUpn: `Administrator@${realm.toLowerCase()}`,
      adminPassword,
      dir: instanceDir,
      pid,
      fromTemplate,
      startMs: Date.now() - t0,
      async connect() {
        const c = newClient();
        try {
          await c.bind(adminDn, adminPassword);
        } catch (e) {
          await c.unbind().catch(() => undefined); // a failed bind keeps the socket open (ldapts 8.2)
          throw e;
        }
        return c;
      },
      async bindAs(name, password) {
        const c = newClient();
        try {
          await c.bind(name, password);
        } finally {
          await c.unbind().catch(() => undefined);
        }
      },
      logTail,
      stop,
    };
  } catch (e) {
    // Anything that failed before stop() existed: leave nothing behind.
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      signalGroup(child.pid, "SIGKILL");
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
    releaseLock();
    if (fromTemplate && template) throw new TemplateStartError((e as Error).message, template);
    throw e;
  }
}

// --- vitest wiring ---------------------------------------------------------------------------------

export interface TestSambaAd extends SambaAd {
  /** Bound as Administrator; unbound in afterAll. */
  admin: Client;
  /** The entry at `dn` (lower-cased keys, string[] values; objectGUID as a GUID string), or undefined. */
  search(dn: string, attributes?: string[]): Promise<Record<string, string[]> | undefined>;
  /** DNs of the entries below `base` (subtree, base excluded) matching `filter`. */
  find(base: string, filter: string | Filter): Promise<string[]>;
  /** Adds an organizationalUnit below the base DN (if missing) and returns its DN. */
  ensureOu(name: string): Promise<string>;
  /** The `targets` entry for provisioned()/config, on this DC as Administrator over verified LDAPS. */
  targetConfig(overrides?: Record<string, unknown>): Record<string, unknown>;
}

/**
 * Registers beforeAll/afterAll for one Samba AD DC. The returned object's fields are filled in by
 * beforeAll, so read them inside tests and hooks, not at module level.
 */
export function useSambaAd(opts: SambaAdOptions = {}): TestSambaAd {
  const ctx = {} as TestSambaAd;
  beforeAll(async () => {
    const ad = await startSambaAd(opts);
    let admin: Client;
    try {
      admin = await ad.connect();
    } catch (e) {
      const log = ad.logTail();
      await ad.stop();
      throw new Error(`Samba AD DC started but the admin bind failed: ${(e as Error).message}; log tail:\n${log}`);
    }
    const search = async (dn: string, attributes: string[] = ["*"]) => {
      try {
        const { searchEntries } = await admin.search(dn, { scope: "base", attributes, explicitBufferAttributes: ["objectGUID", "objectSid"] });
        return searchEntries[0] ? normalizeEntry(searchEntries[0]) : undefined;
      } catch (e) {
        if ((e as { code?: unknown }).code === 32) return undefined;
        throw e;
      }
    };
    Object.assign(ctx, ad, {
      admin,
      search,
      find: async (base: string, filter: string | Filter) =>
        (await admin.search(base, { scope: "sub", filter, attributes: ["1.1"] })).searchEntries.map((e) => e.dn).filter((dn) => dn.toLowerCase() !== base.toLowerCase()),
      ensureOu: async (name: string) => {
        const dn = `OU=${name},${ad.baseDn}`;
        if (!(await search(dn, ["1.1"]))) await admin.add(dn, { objectClass: ["top", "organizationalUnit"], ou: name });
        return dn;
      },
      targetConfig: (overrides: Record<string, unknown> = {}) => ({
        name: "ad",
        directory: "active-directory",
        urls: [ad.url],
        bindDn: ad.adminDn,
        bindPassword: ad.adminPassword,
        tls: { caFile: ad.caFile },
        concurrency: 4,
        timeoutMs: 10_000,
        connectTimeoutMs: 2_000,
        ...overrides,
      }),
    } satisfies Omit<TestSambaAd, keyof SambaAd>);
  }, 200_000); // may wait for another DC to stop (lockTimeoutMs) and then provision
  afterAll(async () => {
    await ctx.admin?.unbind().catch(() => undefined);
    await ctx.stop?.();
  }, 30_000);
  return ctx;
}

/** The wire bytes of an objectGUID printed as executor.guidString prints it: the first three
 *  fields are little-endian (MS-DTYP 2.3.4). */
export function guidBytes(guid: string): Buffer {
  const hex = guid.replace(/-/g, "");
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new Error(`not a GUID: ${guid}`);
  const b = Buffer.from(hex, "hex");
  return Buffer.concat([Buffer.from(b.subarray(0, 4)).reverse(), Buffer.from(b.subarray(4, 6)).reverse(), Buffer.from(b.subarray(6, 8)).reverse(), b.subarray(8)]);
}

/**
 * A filter matching this objectGUID. A filter object with a Buffer value, not the string
 * `(objectGUID=\7f\ae...)`: ldapts 8.2's string filter parser decodes `\xx` escapes as UTF-8,
 * which mangles GUID bytes that are not valid UTF-8, and the search silently finds nothing
 * (measured on Samba).
 */
export function guidFilter(guid: string): Filter {
  return new EqualityFilter({ attribute: "objectGUID", value: guidBytes(guid) });
}

// --- helpers ---------------------------------------------------------------------------------------

async function provision(sambaTool: string, dir: string, o: { realm: string; domain: string; adminPassword: string }, template: string): Promise<void> {
  // The tested recipe (ldap-targets.md §1.8): no DNS, loopback only, LDAP service only.
  const args = [
    "domain", "provision", "--use-rfc2307", `--realm=${o.realm}`, `--domain=${o.domain}`, "--server-role=dc",
    "--dns-backend=NONE", `--adminpass=${o.adminPassword}`, `--targetdir=${dir}`, "--host-name=dc1", "--host-ip=127.0.0.1",
    "--option=interfaces=lo", "--option=bind interfaces only=yes", "--option=server services=ldap",
    `--option=pid directory=${dir}/run`, `--option=log file=${dir}/log.%m`,
    `--option=tls keyfile=${dir}/tls/key.pem`, `--option=tls certfile=${dir}/tls/cert.pem`, `--option=tls cafile=${dir}/tls/cert.pem`,
  ];
  try {
    await run(sambaTool, args, { maxBuffer: 16 * 1024 * 1024 });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    const out = `${err.stdout ?? ""}${err.stderr ?? ""}`.split("\n").slice(-30).join("\n");
    throw new Error(`samba-tool domain provision failed: ${err.message}\n${out}`);
  }
  // smb.conf is the only provisioned file with absolute paths (checked with grep): keep it as a
  // template so the tarball can be unpacked into any directory.
  const conf = await readFile(join(dir, "etc", "smb.conf"), "utf8");
  await writeFile(join(dir, "etc", "smb.conf.in"), conf.split(dir).join(DIR_PLACEHOLDER));
  await rm(join(dir, "etc", "smb.conf"));
  // Cache it (write to a temp name, then rename: a concurrent reader never sees half a tarball).
  const partial = `${template}.${process.pid}.partial`;
  try {
    const entries = (await readdir(dir)).filter((e) => !e.startsWith("log.") && e !== "tls" && e !== "run");
    await run("tar", ["-czf", partial, "-C", dir, ...entries]);
    renameSync(partial, template);
  } catch {
    rmSync(partial, { force: true }); // no cache: the next start provisions again
  }
}

async function renderConfig(dir: string): Promise<void> {
  const conf = await readFile(join(dir, "etc", "smb.conf.in"), "utf8");
  await writeFile(join(dir, "etc", "smb.conf"), conf.split(DIR_PLACEHOLDER).join(dir));
  await mkdir(join(dir, "run"), { recursive: true });
  await mkdir(join(dir, "tls"), { recursive: true });
}

/** A fresh self-signed EC P-256 certificate with SAN IP:127.0.0.1 (so clients verify it). */
async function writeCertificate(dir: string, realm: string): Promise<void> {
  const host = `dc1.${realm.toLowerCase()}`;
  const key = join(dir, "tls", "key.pem");
  try {
    await run("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
      "-keyout", key, "-out", join(dir, "tls", "cert.pem"), "-subj", `/CN=${host}`,
      "-addext", `subjectAltName=DNS:${host},DNS:localhost,IP:127.0.0.1`,
    ]);
  } catch (e) {
    throw new Error(`openssl could not create the DC's certificate (apt-get install openssl): ${(e as Error).message}`);
  }
}

function tail(dir: string, output: string[], lines: number): string {
  // `log file = <dir>/log.%m`: the daemon itself writes the literal "log.%m" (%m is a client's name).
  let log = "";
  try {
    for (const f of readdirSync(dir).filter((n) => n.startsWith("log.")).sort()) log += readFileSync(join(dir, f), "utf8");
  } catch {
    // no log yet
  }
  const text = `${log}${output.join("")}`.trimEnd();
  return text ? text.split("\n").slice(-lines).join("\n") : "(Samba wrote no log)";
}
