/**
 * The status API's per-resource detail for a group (issue 6 with issue 5's groups): per group
 * rule the state and DN, and for a pending change the operations the next delivery would send,
 * planned by the worker from the same pending member pairs a delivery reads (nothing is sent or
 * recorded by looking).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PATCH_OP, user } from "../helpers/app.js";
import { provisioned, type Provisioned } from "../helpers/provisioned.js";
import { useSlapd } from "../harness/slapd.js";

const ldap = useSlapd();
const PEOPLE = "ou=people,dc=example,dc=com";
const GROUPS = "ou=groups,dc=example,dc=com";
const ADMIN_TOKEN = "admin-token-for-group-status-0123456789";
const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };
let p: Provisioned;
const ids: Record<string, string> = {};

type Planned = { event: string; dn?: string; ops: { kind: string; dn: string; attributes?: Record<string, string[]>; changes?: { operation: string; attribute: string; values: string[] }[] }[] } | null;
type Detail = { rules: { rule: string; state: string | null; dn: string | null; configured: boolean; planned: Planned }[] };

beforeAll(async () => {
  p = await provisioned(ldap, {
    userRules: [{ name: "people", target: "slapd", dn: `uid={userName},${PEOPLE}` }],
    groupRules: [{ name: "teams", target: "slapd", dn: `cn={displayName},${GROUPS}` }],
    admin: { tokens: [{ name: "ops", token: ADMIN_TOKEN }] },
  });
  for (const name of ["gs-ann", "gs-bob"]) ids[name] = (await p.http.post("/scim/v2/Users").set(p.auth).send(user(name))).body.id;
  await p.settle();
});
afterAll(async () => p?.close());

const detail = async (id: string) => {
  const res = await p.http.get(`/admin/api/resources/Group/${id}`).set(admin);
  expect(res.status).toBe(200);
  return (res.body as Detail).rules.find((r) => r.rule === "teams")!;
};

describe("GET /admin/api/resources/Group/:id", () => {
  it("plans a new group's add with its members, then a member's single-value modify; nothing once in sync", async () => {
    const worker = p.assembled.provisioning.worker;
    await worker.stop();
    const created = await p.http
      .post("/scim/v2/Groups")
      .set(p.auth)
      .send({ schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: "gs-team", members: [{ value: ids["gs-ann"] }] });
    expect(created.status).toBe(201);
    const id = created.body.id as string;

    const before = await detail(id);
    expect(before).toMatchObject({ configured: true, state: null, planned: { event: "upsert", dn: `cn=gs-team,${GROUPS}` } });
    expect(before.planned!.ops).toHaveLength(1);
    expect(before.planned!.ops[0]).toMatchObject({ kind: "add", dn: `cn=gs-team,${GROUPS}`, attributes: { member: [`uid=gs-ann,${PEOPLE}`] } });
    // Looking planned nothing into the store.
    expect(await p.sql.one("SELECT count(*) AS n FROM group_member_sync WHERE group_id = ? AND dirty > 0", [id])).toEqual({ n: 0 });

    await worker.start();
    await p.settle();
    expect(await detail(id)).toMatchObject({ state: "in_sync", dn: `cn=gs-team,${GROUPS}`, planned: null });

    await worker.stop();
    const patched = await p.http
      .patch(`/scim/v2/Groups/${id}`)
      .set(p.auth)
      .send({ schemas: [PATCH_OP], Operations: [{ op: "add", path: "members", value: [{ value: ids["gs-bob"] }] }] });
    expect(patched.status).toBe(204); // a group PATCH answers 204 by default
    await worker.fanOut();
    const pending = await detail(id);
    expect(pending).toMatchObject({ state: "pending", planned: { event: "upsert" } });
    expect(pending.planned!.ops).toEqual([{ kind: "modify", dn: `cn=gs-team,${GROUPS}`, changes: [{ operation: "add", attribute: "member", values: [`uid=gs-bob,${PEOPLE}`] }] }]);

    await worker.start();
    await p.settle();
    expect(((await ldap.search(`cn=gs-team,${GROUPS}`, ["member"]))?.member ?? []).sort()).toEqual([`uid=gs-ann,${PEOPLE}`, `uid=gs-bob,${PEOPLE}`]);
    expect(await detail(id)).toMatchObject({ state: "in_sync", planned: null });
  });
});
