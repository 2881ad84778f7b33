import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { group, PATCH_OP, testApp, user, type TestApp } from "../helpers/app.js";

let t: TestApp;
let alice: string;
let bob: string;
beforeEach(async () => {
  t = await testApp();
  alice = (await t.http.post("/scim/v2/Users").set(t.auth).send(user("alice", { displayName: "Alice A" }))).body.id;
  bob = (await t.http.post("/scim/v2/Users").set(t.auth).send(user("bob"))).body.id;
});
afterEach(() => t.close());

const createGroup = (body: object) => t.http.post("/scim/v2/Groups").set(t.auth).send(body);

describe("Groups", () => {
  it("creates a group with members, derives display and $ref, and lists the user's groups", async () => {
    const res = await createGroup(group("Engineers", [alice, bob]));
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(res.body.meta.location);
    expect(res.body.members).toEqual([
      { value: alice, display: "Alice A", type: "User", $ref: expect.stringMatching(new RegExp(`/scim/v2/Users/${alice}$`)) },
      { value: bob, display: "bob", type: "User", $ref: expect.stringMatching(/\/Users\//) },
    ]);
    const u = await t.http.get(`/scim/v2/Users/${alice}`).set(t.auth);
    expect(u.body.groups).toEqual([{ value: res.body.id, display: "Engineers", type: "direct", $ref: res.body.meta.location }]);
  });

  it("displayName is unique case-insensitively: 409 uniqueness", async () => {
    expect((await createGroup(group("Admins"))).status).toBe(201);
    const res = await createGroup(group("ADMINS"));
    expect(res.status).toBe(409);
    expect(res.body.scimType).toBe("uniqueness");
  });

  it("rejects members that are not existing users or groups: 400 invalidValue, nothing stored", async () => {
    const res = await createGroup(group("Ghosts", [alice, "no-such-id"]));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ scimType: "invalidValue" });
    expect(res.body.detail).toContain("no-such-id");
    expect(await t.sql.one("select count(*) n from groups")).toEqual({ n: 0 });
  });

  it("missing displayName: 400 invalidValue", async () => {
    const res = await createGroup({ schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"] });
    expect(res.status).toBe(400);
    expect(res.body.scimType).toBe("invalidValue");
  });

  it("excludedAttributes=members leaves members out of reads and lists", async () => {
    const g = (await createGroup(group("Ops", [alice]))).body;
    const one = await t.http.get(`/scim/v2/Groups/${g.id}`).set(t.auth).query({ excludedAttributes: "members" });
    expect(one.body.members).toBeUndefined();
    expect(one.body.displayName).toBe("Ops");
    const many = await t.http.get("/scim/v2/Groups").set(t.auth).query({ filter: 'displayName eq "ops"', excludedAttributes: "members" });
    expect(many.body.Resources[0].members).toBeUndefined();
  });

  it("PUT replaces the members as a delta; PUT without members keeps them", async () => {
    const g = (await createGroup(group("Team", [alice]))).body;
    const put = await t.http.put(`/scim/v2/Groups/${g.id}`).set(t.auth).send(group("Team", [bob]));
    expect(put.body.members.map((m: { value: string }) => m.value)).toEqual([bob]);
    const rows = await t.sql.rows("select members_added a, members_removed r from changes where resource_id = ? order by seq", [g.id]);
    expect(rows[1]).toEqual({ a: JSON.stringify([bob]), r: JSON.stringify([alice]) });
    const keep = await t.http.put(`/scim/v2/Groups/${g.id}`).set(t.auth).send({ schemas: group("x").schemas, displayName: "Team Renamed" });
    expect(keep.body.displayName).toBe("Team Renamed");
    expect(keep.body.members.map((m: { value: string }) => m.value)).toEqual([bob]);
  });

  it("PATCH add and remove members are idempotent deltas", async () => {
    const g = (await createGroup(group("Delta"))).body;
    // A group PATCH answers 204 by default; the representation is asked for (RFC 7240) to see the members.
    const patch = (ops: unknown[]) => t.http.patch(`/scim/v2/Groups/${g.id}`).set(t.auth).set("Prefer", "return=representation").send({ schemas: [PATCH_OP], Operations: ops });
    await patch([{ op: "add", path: "members", value: [{ value: alice }] }]);
    const again = await patch([{ op: "add", path: "members", value: [{ value: alice }] }]);
    expect(again.body.members).toHaveLength(1);
    expect(again.body.meta.version).toBe('"2"'); // the repeat changed nothing
    await patch([{ op: "remove", path: `members[value eq "${alice}"]` }]);
    const gone = await patch([{ op: "remove", path: `members[value eq "${alice}"]` }]);
    expect(gone.status).toBe(200);
    expect(gone.body.members ?? []).toEqual([]);
  });

  it("deleting a user removes it from its groups", async () => {
    const g = (await createGroup(group("Leavers", [alice, bob]))).body;
    await t.http.delete(`/scim/v2/Users/${alice}`).set(t.auth);
    const res = await t.http.get(`/scim/v2/Groups/${g.id}`).set(t.auth);
    expect(res.body.members.map((m: { value: string }) => m.value)).toEqual([bob]);
  });

  it("filters groups by member", async () => {
    await createGroup(group("G1", [alice]));
    await createGroup(group("G2", [bob]));
    const res = await t.http.get("/scim/v2/Groups").set(t.auth).query({ filter: `members.value eq "${bob}"` });
    expect(res.body.Resources.map((g: { displayName: string }) => g.displayName)).toEqual(["G2"]);
    const users = await t.http.get("/scim/v2/Users").set(t.auth).query({ filter: `groups.display eq "g1"` });
    expect(users.body.Resources.map((u: { userName: string }) => u.userName)).toEqual(["alice"]);
  });
});
