/**
 * Two replicas on one PostgreSQL delivering to one slapd (each its own store, app and worker, wired
 * as `serve` wires them): every replica serves SCIM and delivers, with no leader; a lease on each
 * sync_state row keeps a (resource, rule) with one worker at a time (hooks/delivery/scheduler.ts).
 * - users created through both replicas reach the directory once each (one LDAP add per user in
 *   the shared audit log);
 * - a user created on one replica and deleted at once through the other, 300 times: no entry is
 *   left, and no sync row is lost (each deleted user's rows are gone, not stuck); both replicas'
 *   workers delivered some of these users;
 * - member PATCHes of one group alternating between the replicas: no 5xx, the directory's members
 *   equal SCIM's, one LDAP add per user;
 * - one reconcile at a time across replicas: while one replica's reconcile holds the claim, an
 *   admin reconcile on the other answers 409.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { usePostgres } from "../harness/postgres.js";
import { useSlapd } from "../harness/slapd.js";
import { user } from "../helpers/app.js";
import { eventually, PEOPLE, replicaConfig, startReplica, type Replica } from "../helpers/replicas.js";

const pg = usePostgres();
const ldap = useSlapd();
const GROUPS = "ou=groups,dc=example,dc=com";
const ADMIN_TOKEN = "replicas-admin-token-0123456789abcdef";

/** A replica, and the LDAP adds its worker made, by DN. */
const replicas: (Replica & { adds: string[] })[] = [];
let auth: { Authorization: string };

beforeAll(async () => {
  const config = replicaConfig(pg.url, ldap.slapd, {
    doc: { admin: { tokens: [{ name: "ops", token: ADMIN_TOKEN }] }, groupRules: [{ name: "groups", target: "slapd", dn: `cn={displayName},${GROUPS}` }] },
  });
  for (let i = 0; i < 2; i++) {
    const adds: string[] = [];
    const replica = await startReplica(config, { observers: { onLdapWrite: (e) => void (e.operation === "add" && e.outcome === "success" && adds.push(e.dn)) } });
    replicas.push({ ...replica, adds });
  }
  auth = { Authorization: `Bearer ${await replicas[0]!.assembled.app.tokens.create("idp")}` };
}, 60_000);
afterAll(async () => {
  for (const r of replicas) await r.close();
});

const uids = async (prefix: string) =>
  (await ldap.admin.search(PEOPLE, { scope: "one", filter: `(uid=${prefix}*)`, attributes: ["uid"], paged: { pageSize: 500 } })).searchEntries.map((e) => String(e.uid)).sort();
/** Nothing pending or retrying, read from the shared database. */
const settled = async () => (await replicas[0]!.store.syncStatus.failures({ states: ["pending", "retrying"] }, { offset: 0, limit: 1 })).total === 0 && !(await replicas[0]!.store.sync.hasUnfanned());

/** The audit log's successful LDAP adds per DN, for DNs starting with `prefix`. */
async function auditedAdds(prefix: string): Promise<Map<string, number>> {
  for (const r of replicas) await r.assembled.app.audit.flush();
  const adds = await replicas[0]!.store.pool.query<{ dn: string; n: string }>(
    "SELECT dn, count(*) AS n FROM audit_log WHERE kind = 'ldap' AND operation = 'add' AND outcome = 'success' AND dn LIKE $1 GROUP BY dn",
    [`${prefix}%`],
  );
  return new Map(adds.rows.map((r) => [r.dn, Number(r.n)]));
}

describe("two replicas on one PostgreSQL and one slapd, both delivering", () => {
  it("users created through both replicas reach the directory once each", async () => {
    const names = Array.from({ length: 60 }, (_, i) => `both${String(i).padStart(2, "0")}`);
    const created = await Promise.all(names.map((n, i) => replicas[i % 2]!.http.post("/scim/v2/Users").set(auth).send(user(n))));
    expect(created.map((r) => r.status)).toEqual(names.map(() => 201));
    await eventually(async () => (await uids("both")).length === names.length && (await settled()), 20_000);
    expect(await uids("both")).toEqual(names);
    const adds = await auditedAdds("uid=both");
    expect(adds.size).toBe(names.length);
    expect([...adds.values()].every((n) => n === 1)).toBe(true);
  });

  it("created on one replica and deleted at once through the other, 300 times: no entry is left, no sync row lost", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 300; i++) {
      const created = await replicas[i % 2]!.http.post("/scim/v2/Users").set(auth).send(user(`gone${i}`));
      expect(created.status).toBe(201);
      ids.push(created.body.id as string);
      expect((await replicas[(i + 1) % 2]!.http.delete(`/scim/v2/Users/${created.body.id as string}`).set(auth)).status).toBe(204);
    }
    await eventually(settled, 90_000);
    expect(await uids("gone")).toEqual([]);
    // Every deleted user's row reached its end (removed once its entry was gone): none left
    // pending, failed or holding a lease.
    const left = await replicas[0]!.store.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM sync_state WHERE resource_id = ANY($1)", [ids]);
    expect(left.rows[0]).toEqual({ n: 0 });
    // No leader: over these 360 users each replica's worker made some of the adds (which one
    // takes a row depends on who fans it out and claims it first).
    for (const r of replicas) expect(r.adds.length).toBeGreaterThan(0);
  }, 180_000);

  it("member PATCHes of one group alternating between the replicas: no 5xx, LDAP members equal SCIM members, one LDAP add per user", async () => {
    const members: string[] = [];
    for (let i = 0; i < 20; i++) {
      const created = await replicas[i % 2]!.http.post("/scim/v2/Users").set(auth).send(user(`member${String(i).padStart(2, "0")}`));
      expect(created.status).toBe(201);
      members.push(created.body.id as string);
    }
    const group = await replicas[0]!.http.post("/scim/v2/Groups").set(auth).send({ schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: "alternating" });
    expect(group.status).toBe(201);
    const gid = group.body.id as string;
    const patch = (value: Record<string, unknown>) => ({ schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: [value] });
    // Adds for all 20, then removes of every third, alternating replicas, two at a time.
    const ops = [
      ...members.map((id) => patch({ op: "add", path: "members", value: [{ value: id }] })),
      ...members.filter((_, i) => i % 3 === 0).map((id) => patch({ op: "remove", path: `members[value eq "${id}"]` })),
    ];
    const statuses: number[] = [];
    for (let i = 0; i < ops.length; i += 2) {
      const pair = await Promise.all([0, 1].filter((k) => i + k < ops.length).map((k) => replicas[(i + k) % 2]!.http.patch(`/scim/v2/Groups/${gid}`).set(auth).send(ops[i + k]!)));
      statuses.push(...pair.map((r) => r.status));
    }
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    expect(statuses.every((s) => s === 200 || s === 204)).toBe(true);
    const scim = await replicas[1]!.http.get(`/scim/v2/Groups/${gid}`).set(auth);
    const scimMembers = ((scim.body.members ?? []) as { value: string }[]).map((m) => m.value).sort();
    expect(scimMembers).toEqual(members.filter((_, i) => i % 3 !== 0).sort());
    const dnOf = new Map(members.map((id, i) => [id, `uid=member${String(i).padStart(2, "0")},${PEOPLE}`]));
    const ldapMembers = async () => {
      const found = await ldap.admin.search(GROUPS, { scope: "one", filter: "(cn=alternating)", attributes: ["member"] });
      const m = found.searchEntries[0]?.member;
      return (m === undefined ? [] : Array.isArray(m) ? m : [m]).map(String).map((dn) => dn.toLowerCase()).sort();
    };
    const wanted = scimMembers.map((id) => dnOf.get(id)!.toLowerCase()).sort();
    await eventually(async () => JSON.stringify(await ldapMembers()) === JSON.stringify(wanted) && (await settled()), 45_000);
    expect(await ldapMembers()).toEqual(wanted);
    const adds = await auditedAdds("uid=member");
    expect(adds.size).toBe(members.length);
    expect([...adds.values()].every((n) => n === 1)).toBe(true);
  }, 90_000);

  it("one reconcile at a time across replicas: while one replica reconciles, an admin reconcile on the other answers 409", async () => {
    const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };
    // Replica A's periodic reconcile holds the claim (server/reconcile.ts takes the same one).
    const claim = await replicas[0]!.store.singleton("reconcile");
    expect(claim).toBeDefined();
    try {
      const refused = await replicas[1]!.http.post("/admin/api/reconcile").set(admin).send({});
      expect(refused.status).toBe(409);
      expect(JSON.stringify(refused.body)).toContain("another replica");
    } finally {
      await claim!.release();
    }
    const ran = await replicas[1]!.http.post("/admin/api/reconcile").set(admin).send({});
    expect(ran.status).toBe(200);
    expect(ran.body).toMatchObject({ dryRun: true });
  });
});
