/**
 * A replica killed with SIGKILL while it holds delivery leases. Replica A is a real `scimbridge
 * serve` process on the shared PostgreSQL; its target's address is a listener that accepts and
 * never answers, so A's deliveries hang and A keeps the rows it claimed (renewing their leases).
 * Replica B, in this process, reaches the real slapd under the same target name. While A lives, B
 * delivers none of A's rows; once A is killed, B delivers all of them within the lease plus a
 * poll, each added once.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgresStore, type PostgresEngine } from "../../db/pg/open.js";
import { freePort } from "../../hooks/ldap/slapd.js";
import { parseConfig } from "../../server/config/load.js";
import { createLogger } from "../../server/logger.js";
import { assemble } from "../../server/serve.js";
import { usePostgres } from "../harness/postgres.js";
import { useSlapd } from "../harness/slapd.js";
import { user } from "../helpers/app.js";
import { spawnCli } from "../helpers/cli.js";

const pg = usePostgres();
const ldap = useSlapd();
const PEOPLE = "ou=people,dc=example,dc=com";
const TOKEN = "replica-crash-token-0123456789abcdef";
const LEASE_SECONDS = 5;
const POLL_MS = 200;
const USERS = 12;
const SECRET_KEY = Buffer.alloc(32, 9).toString("base64");

const dir = mkdtempSync(join(tmpdir(), "scimbridge-crash-"));
let blackhole: Server;
const sockets: Socket[] = [];
let a: ChildProcess | undefined;
let aOutput = "";
let b: { store: PostgresEngine; assembled: Awaited<ReturnType<typeof assemble>> } | undefined;

/** The config both replicas share, but the target's address. */
const doc = (ldapUrl: string, port: number) => ({
  server: { publicUrl: "https://scim.example.test/scim/v2", port, host: "127.0.0.1" },
  storage: { url: pg.url, pool: { max: 4 } },
  logging: { level: "warn" },
  targets: [{ name: "slapd", directory: "openldap", urls: [ldapUrl], bindDn: ldap.slapd.rootDn, bindPassword: ldap.slapd.rootPassword, concurrency: 4, timeoutMs: 120_000, connectTimeoutMs: 1000 }],
  userRules: [{ name: "people", target: "slapd", dn: `uid={userName},${PEOPLE}` }],
  provisioning: { pollMs: POLL_MS, leaseSeconds: LEASE_SECONDS, retryInitialMs: 50, retryMaxMs: 500, secretKey: SECRET_KEY },
});

beforeAll(async () => {
  blackhole = createServer((socket) => void sockets.push(socket)); // accepts, never answers
  await new Promise<void>((r) => blackhole.listen(0, "127.0.0.1", r));
  const holePort = (blackhole.address() as { port: number }).port;
  const aPort = await freePort();
  const file = join(dir, "a.json");
  // JSON is YAML: the CLI reads either.
  writeFileSync(file, JSON.stringify(doc(`ldap://127.0.0.1:${holePort}`, aPort)));
  a = spawnCli(["serve", "--config", file], { SCIM_TOKEN: TOKEN });
  a.stdout!.on("data", (c: Buffer) => (aOutput += c.toString()));
  a.stderr!.on("data", (c: Buffer) => (aOutput += c.toString()));
  await until(async () => /listening on/.test(aOutput) || a!.exitCode !== null, 30_000);
  expect(a.exitCode, aOutput).toBeNull();

  // B: same database and rules, the real slapd; its worker starts once A holds the rows.
  const store = await openPostgresStore({ url: pg.url, pool: { max: 4 } });
  const assembled = await assemble(parseConfig({ ...doc(ldap.slapd.url, 0), logging: { level: "silent" } }, {}), store, createLogger("silent"));
  b = { store, assembled };
  const aUrl = `http://127.0.0.1:${aPort}/scim/v2/Users`;
  for (let i = 0; i < USERS; i++) {
    const res = await fetch(aUrl, { method: "POST", headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/scim+json" }, body: JSON.stringify(user(`crash${String(i).padStart(2, "0")}`)) });
    expect(res.status, await res.text()).toBe(201);
  }
}, 90_000);

afterAll(async () => {
  a?.kill("SIGKILL");
  await b?.assembled.provisioning.close();
  await b?.store.close();
  for (const s of sockets) s.destroy();
  await new Promise((r) => blackhole.close(r));
  rmSync(dir, { recursive: true, force: true });
});

async function until(cond: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`not done within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const uids = async () => (await ldap.admin.search(PEOPLE, { scope: "one", filter: "(uid=crash*)", attributes: ["uid"] })).searchEntries.map((e) => String(e.uid)).sort();
/** The users whose rows are leased, by owner. */
const leased = async () =>
  (
    await b!.store.pool.query<{ owner: string; names: string[] }>(
      "SELECT s.lease_owner AS owner, array_agg(u.user_name ORDER BY u.user_name) AS names FROM sync_state s JOIN users u ON u.id = s.resource_id WHERE s.lease_owner IS NOT NULL GROUP BY s.lease_owner",
    )
  ).rows;

describe("a replica killed with SIGKILL while it holds delivery leases", () => {
  it("the other replica delivers the rows nobody holds at once, leaves the holder's alone while it lives, and delivers them within the lease plus a poll once it is killed", async () => {
    // A took rows for delivery up to its concurrency and hangs on them (the silent target); a
    // replica whose slots are all busy claims no more, so the other rows wait unleased.
    await until(async () => (await leased()).length === 1 && (await leased())[0]!.names.length >= 4, 10_000);
    await new Promise((r) => setTimeout(r, 500));
    const [held] = await leased();
    const heldByA = held!.names;
    const all = Array.from({ length: USERS }, (_, i) => `crash${String(i).padStart(2, "0")}`);
    const free = all.filter((n) => !heldByA.includes(n));
    expect(free.length).toBeGreaterThan(0);

    await b!.assembled.provisioning.worker.start();
    await until(async () => (await uids()).length === free.length, 10_000);
    expect(await uids()).toEqual(free);
    // Longer than a lease: A's heartbeat keeps its rows, and B takes none of them.
    await new Promise((r) => setTimeout(r, (LEASE_SECONDS + 1) * 1000));
    expect(await uids()).toEqual(free);
    expect(await leased()).toEqual([held]);

    const killed = Date.now();
    a!.kill("SIGKILL");
    await until(async () => (await uids()).length === USERS, (LEASE_SECONDS + 10) * 1000);
    const seconds = (Date.now() - killed) / 1000;
    // The bound: A's last renewal left at most a lease; B's next poll takes the rows after it.
    expect(seconds).toBeLessThan(LEASE_SECONDS + POLL_MS / 1000 + 3);
    expect(await uids()).toEqual(all);
    await b!.assembled.app.audit.flush();
    const adds = await b!.store.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_log WHERE kind = 'ldap' AND operation = 'add' AND outcome = 'success' AND dn LIKE 'uid=crash%'");
    expect(adds.rows[0]).toEqual({ n: USERS });
  }, 60_000);
});
