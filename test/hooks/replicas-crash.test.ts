/**
 * A replica that stops with delivery leases held. Replica A is a real `scimbridge serve` process on
 * the shared PostgreSQL; its target's address is a listener that accepts and never answers, so A's
 * deliveries hang and A keeps the rows it claimed (renewing their leases). Replica B, in this
 * process, reaches the real slapd under the same target name.
 * - A killed with SIGKILL: its presence lock ends with its session, and B delivers A's rows at its
 *   next poll, long before their leases (60 s) would run out; while A lived, B left them alone.
 * - A frozen with SIGSTOP (its sessions stay open, so it still looks alive): its leases run out,
 *   B takes the rows over and delivers them; when A wakes and its deliveries fail, their outcomes
 *   are fenced off and B's stand.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../hooks/ldap/slapd.js";
import { parseConfig } from "../../server/config/load.js";
import { usePostgres } from "../harness/postgres.js";
import { useSlapd } from "../harness/slapd.js";
import { user } from "../helpers/app.js";
import { spawnCli } from "../helpers/cli.js";
import { eventually, PEOPLE, startReplica, type Replica } from "../helpers/replicas.js";

const pg = usePostgres();
const ldap = useSlapd();
const TOKEN = "replica-crash-token-0123456789abcdef";
const LEASE_SECONDS = 5;
const POLL_MS = 200;
const USERS = 12;
const SECRET_KEY = Buffer.alloc(32, 9).toString("base64");

const dir = mkdtempSync(join(tmpdir(), "scimbridge-crash-"));
let blackhole: Server;
const sockets: Socket[] = [];
const children: ChildProcess[] = [];
let b: Replica | undefined;

/** The config both replicas share, but the target's address and timeout, and the lease. */
const doc = (ldapUrl: string, port: number, leaseSeconds: number, timeoutMs: number) => ({
  server: { publicUrl: "https://scim.example.test/scim/v2", port, host: "127.0.0.1" },
  storage: { url: pg.url, pool: { max: 4 } },
  logging: { level: "warn" },
  targets: [{ name: "slapd", directory: "openldap", urls: [ldapUrl], bindDn: ldap.slapd.rootDn, bindPassword: ldap.slapd.rootPassword, concurrency: 4, timeoutMs, connectTimeoutMs: 1000 }],
  userRules: [{ name: "people", target: "slapd", dn: `uid={userName},${PEOPLE}` }],
  provisioning: { pollMs: POLL_MS, leaseSeconds, retryInitialMs: 50, retryMaxMs: 500, secretKey: SECRET_KEY },
});

/** Replica A: a serve process whose target never answers; resolves once it listens. */
async function replicaA(name: string, leaseSeconds: number, timeoutMs: number): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const holePort = (blackhole.address() as { port: number }).port;
  const port = await freePort();
  const file = join(dir, `${name}.json`);
  // JSON is YAML: the CLI reads either.
  writeFileSync(file, JSON.stringify(doc(`ldap://127.0.0.1:${holePort}`, port, leaseSeconds, timeoutMs)));
  const child = spawnCli(["serve", "--config", file], { SCIM_TOKEN: TOKEN });
  children.push(child);
  let output = "";
  child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
  await eventually(async () => /listening on/.test(output) || child.exitCode !== null, 30_000);
  expect(child.exitCode, output).toBeNull();
  return { child, url: `http://127.0.0.1:${port}/scim/v2/Users`, output: () => output };
}

/** Creates users `<prefix>00`… through A; their names. */
async function createThrough(url: string, prefix: string): Promise<string[]> {
  const names = Array.from({ length: USERS }, (_, i) => `${prefix}${String(i).padStart(2, "0")}`);
  for (const n of names) {
    const res = await fetch(url, { method: "POST", headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/scim+json" }, body: JSON.stringify(user(n)) });
    expect(res.status, await res.text()).toBe(201);
  }
  return names;
}

beforeAll(async () => {
  blackhole = createServer((socket) => void sockets.push(socket)); // accepts, never answers
  await new Promise<void>((r) => blackhole.listen(0, "127.0.0.1", r));
  // B: same database and rules, the real slapd; its worker starts once A holds rows.
  b = await startReplica(parseConfig({ ...doc(ldap.slapd.url, 0, 60, 10_000), logging: { level: "silent" } }, {}), { pool: { max: 4 }, worker: false });
}, 90_000);

afterAll(async () => {
  for (const c of children) {
    c.kill("SIGCONT");
    c.kill("SIGKILL");
  }
  await b?.close();
  for (const s of sockets) s.destroy();
  await new Promise((r) => blackhole.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const uids = async (prefix: string) =>
  (await ldap.admin.search(PEOPLE, { scope: "one", filter: `(uid=${prefix}*)`, attributes: ["uid"] })).searchEntries.map((e) => String(e.uid)).sort();
/** The users starting with `prefix` whose rows are leased, by owner. */
const leased = async (prefix: string) =>
  (
    await b!.store.pool.query<{ owner: string; names: string[] }>(
      "SELECT s.lease_owner AS owner, array_agg(u.user_name ORDER BY u.user_name) AS names FROM sync_state s JOIN users u ON u.id = s.resource_id WHERE s.lease_owner IS NOT NULL AND u.user_name LIKE $1 GROUP BY s.lease_owner",
      [`${prefix}%`],
    )
  ).rows;
const addsOf = async (prefix: string) => {
  await b!.assembled.app.audit.flush();
  return (await b!.store.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_log WHERE kind = 'ldap' AND operation = 'add' AND outcome = 'success' AND dn LIKE $1", [`uid=${prefix}%`])).rows[0]!.n;
};

/** Waits until A holds leases on at least its concurrency's worth of rows; the names it holds. */
async function heldByA(prefix: string): Promise<{ owner: string; names: string[] }> {
  await eventually(async () => {
    const l = await leased(prefix);
    return l.length === 1 && l[0]!.names.length >= 4;
  }, 10_000);
  await new Promise((r) => setTimeout(r, 300));
  const [held] = await leased(prefix);
  return held!;
}

describe("a replica that stops while it holds delivery leases", () => {
  it("killed with SIGKILL: the other replica delivers the free rows at once, leaves the killed one's alone while it lived, and takes them at its next poll, long before their leases run out", async () => {
    const a = await replicaA("killed", 60, 120_000);
    const names = await createThrough(a.url, "crash");
    const held = await heldByA("crash");
    const free = names.filter((n) => !held.names.includes(n));
    expect(free.length).toBeGreaterThan(0);

    await b!.assembled.provisioning.worker.start();
    await eventually(async () => (await uids("crash")).length === free.length, 10_000);
    // Several of B's polls: A is alive (its presence lock is held), so its rows stay with it.
    await new Promise((r) => setTimeout(r, 10 * POLL_MS));
    expect(await uids("crash")).toEqual(free);
    expect(await leased("crash")).toEqual([held]);

    const killed = Date.now();
    a.child.kill("SIGKILL");
    await eventually(async () => (await uids("crash")).length === USERS, 20_000);
    const seconds = (Date.now() - killed) / 1000;
    // Within a few polls of B, against the 60 s the leases had left.
    expect(seconds).toBeLessThan(POLL_MS / 1000 + 5);
    expect(await uids("crash")).toEqual(names);
    expect(await addsOf("crash")).toBe(USERS);
  }, 90_000);

  it("frozen with SIGSTOP: its leases run out and the other replica delivers its rows; woken, its failed deliveries change nothing", async () => {
    // B's worker pauses while A takes the rows, then runs again.
    await b!.assembled.provisioning.worker.stop();
    const a = await replicaA("frozen", LEASE_SECONDS, 4000);
    const names = await createThrough(a.url, "frozen");
    const held = await heldByA("frozen");
    await b!.assembled.provisioning.worker.start();
    await eventually(async () => (await uids("frozen")).length === USERS - held.names.length, 10_000);
    const stopped = Date.now();
    a.child.kill("SIGSTOP");
    await eventually(async () => (await uids("frozen")).length === USERS, (LEASE_SECONDS + 15) * 1000);
    const seconds = (Date.now() - stopped) / 1000;
    // Not before A's leases ran out (its sessions are open: it looks alive), and within a lease and a few polls after.
    expect(seconds).toBeGreaterThan(1.5);
    expect(seconds).toBeLessThan(LEASE_SECONDS + POLL_MS / 1000 + 5);
    await eventually(async () => (await leased("frozen")).length === 0, 10_000);
    const state = async () => (await b!.store.pool.query<{ state: string; n: number }>("SELECT s.state, count(*)::int AS n FROM sync_state s JOIN users u ON u.id = s.resource_id WHERE u.user_name LIKE 'frozen%' GROUP BY s.state")).rows;
    expect(await state()).toEqual([{ state: "in_sync", n: USERS }]);

    // A wakes: its deliveries to the silent target time out and fail; their outcomes are fenced.
    a.child.kill("SIGCONT");
    // Each of its deliveries in flight (up to its concurrency, 4) ends fenced.
    const fenced = () => a.output().match(/lease was taken over/g)?.length ?? 0;
    await eventually(async () => fenced() >= Math.min(4, held.names.length), 20_000);
    expect(await state()).toEqual([{ state: "in_sync", n: USERS }]);
    expect(await uids("frozen")).toEqual(names);
    expect(await addsOf("frozen")).toBe(USERS);
  }, 90_000);
});
