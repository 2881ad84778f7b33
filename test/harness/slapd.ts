/**
 * A real slapd per test file: `const dir = useSlapd()` starts it in beforeAll and stops it (and
 * removes its temp dir) in afterAll. Also an ldapts admin client and small read helpers.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll } from "vitest";
import { Client } from "ldapts";
import { startSlapd, type SlapdHandle, type SlapdOptions } from "../../hooks/ldap/slapd.js";
import { LdapTarget, type LdapTargetOptions } from "../../hooks/ldap/connection.js";
import { normalizeEntry } from "../../hooks/ldap/executor.js";

export interface TestSlapd {
  slapd: SlapdHandle;
  /** Bound as the rootdn; unbound in afterAll. */
  admin: Client;
  /** The entry at `dn` (lower-cased keys, string[] values), or undefined if it does not exist. */
  search(dn: string, attributes?: string[]): Promise<Record<string, string[]> | undefined>;
  /** DNs of the entries directly below `base`. */
  children(base: string): Promise<string[]>;
  /** An LdapTarget on this slapd bound as the rootdn; closed in afterAll. */
  target(overrides?: Partial<LdapTargetOptions>): LdapTarget;
}

/**
 * Registers beforeAll/afterAll for one slapd. The returned object's fields are filled in by
 * beforeAll, so read them inside tests, not at module level.
 */
export function useSlapd(opts: SlapdOptions = {}): TestSlapd {
  const targets: LdapTarget[] = [];
  const ctx = {} as TestSlapd;
  beforeAll(async () => {
    const slapd = await startSlapd(opts);
    const admin = await adminClient(slapd);
    Object.assign(ctx, {
      slapd,
      admin,
      search: (dn: string, attributes?: string[]) => searchEntry(admin, dn, attributes),
      children: async (base: string) =>
        (await admin.search(base, { scope: "one", attributes: ["1.1"] })).searchEntries.map((e) => e.dn),
      target: (overrides: Partial<LdapTargetOptions> = {}) => {
        const t = new LdapTarget({
          name: "test",
          urls: [slapd.url],
          bindDn: slapd.rootDn,
          bindPassword: slapd.rootPassword,
          timeoutMs: 5000,
          connectTimeoutMs: 1000,
          concurrency: 4,
          ...overrides,
        });
        targets.push(t);
        return t;
      },
    } satisfies TestSlapd);
  });
  afterAll(async () => {
    await Promise.all(targets.map((t) => t.close()));
    await ctx.admin?.unbind().catch(() => undefined);
    await ctx.slapd?.stop();
  });
  return ctx;
}

/** A Client bound as the instance's rootdn (with autoRebind, so a slapd restart is survivable). */
export async function adminClient(slapd: Pick<SlapdHandle, "url" | "rootDn" | "rootPassword">): Promise<Client> {
  const client = new Client({ url: slapd.url, timeout: 5000, connectTimeout: 1000, autoRebind: true });
  await client.bind(slapd.rootDn, slapd.rootPassword);
  return client;
}

export async function searchEntry(client: Client, dn: string, attributes: string[] = ["*", "+"]): Promise<Record<string, string[]> | undefined> {
  try {
    const { searchEntries } = await client.search(dn, { scope: "base", attributes });
    return searchEntries[0] ? normalizeEntry(searchEntries[0]) : undefined;
  } catch (e) {
    if ((e as { code?: unknown }).code === 32) return undefined;
    throw e;
  }
}

/**
 * Whether `dn` can bind with `password`: the directory's own answer, not scimbridge's records.
 * 49 invalidCredentials (a wrong password, a lock, an absent userPassword) is false; any other
 * failure throws.
 */
export async function canBind(url: string, dn: string, password: string): Promise<boolean> {
  const client = new Client({ url, timeout: 5000, connectTimeout: 1000 });
  try {
    await client.bind(dn, password);
    return true;
  } catch (e) {
    if ((e as { code?: unknown }).code === 49) return false;
    throw e;
  } finally {
    await client.unbind().catch(() => undefined);
  }
}

/** Polls `cond` every 20 ms until true or `ms` elapse; returns whether it became true. */
export async function eventually(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

/** The one-letter state from /proc/<pid>/stat (R, S, T stopped, Z zombie), if readable. */
export function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  } catch {
    return undefined;
  }
}

/** Whether a process with this PID is running. A zombie (exited, not yet reaped by a parent that
 *  is not us, e.g. an orphan under a container's PID 1) counts as gone. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0 probes without sending anything
  } catch {
    return false;
  }
  return processState(pid) !== "Z"; // undefined (no procfs): trust kill(0)
}
