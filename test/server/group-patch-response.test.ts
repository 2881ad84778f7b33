/**
 * What a group PATCH answers (RFC 7644 §3.5.2: 200 with the resource or 204), and members.display
 * kept with the membership row (RFC 7643 §4.2) as member names change.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { ResourceQueries } from "../../db/resources.js";
import { group, PATCH_OP, testApp, user, type TestApp } from "../helpers/app.js";

const addMember = (id: string) => ({ schemas: [PATCH_OP], Operations: [{ op: "add", path: "members", value: [{ value: id }] }] });

describe.each([
  ["default (scim.groupPatchResponse: minimal)", {}, 204],
  ["scim.groupPatchResponse: full", { scim: { groupPatchResponse: "full" } }, 200],
] as const)("group PATCH, %s", (_, config, plain) => {
  let t: TestApp;
  let users: string[];
  let gid: string;
  let next = 0;
  beforeAll(async () => {
    t = await testApp(config);
    users = [];
    for (let i = 0; i < 8; i++) users.push((await t.http.post("/scim/v2/Users").set(t.auth).send(user(`gp${i}`, { displayName: `GP ${i}` }))).body.id as string);
    gid = (await t.http.post("/scim/v2/Groups").set(t.auth).send(group("gp-team", [users[0]!]))).body.id as string;
  });
  afterAll(() => t?.close());
  afterEach(() => vi.restoreAllMocks());
  const patch = (query = "") => t.http.patch(`/scim/v2/Groups/${gid}${query}`).set(t.auth);

  it(`without attributes or Prefer: ${plain}`, async () => {
    const members = vi.spyOn(ResourceQueries.prototype, "members");
    const res = await patch().send(addMember(users[++next]!));
    expect(res.status).toBe(plain);
    expect(res.headers.etag).toMatch(/^"\d+"$/);
    if (plain === 204) {
      expect(res.text).toBe("");
      // The answer never reads the member list (a 100,000-member group costs what a small one does).
      expect(members).not.toHaveBeenCalled();
    } else {
      expect(res.body.members).toHaveLength(next + 1);
    }
    const now = await t.http.get(`/scim/v2/Groups/${gid}`).set(t.auth);
    expect(now.headers.etag).toBe(res.headers.etag);
    expect(now.body.members).toHaveLength(next + 1);
  });

  it("attributes asks for the group: 200 with those attributes (RFC 7644 §3.5.2 MUST)", async () => {
    const res = await patch("?attributes=displayName").send(addMember(users[++next]!));
    expect(res.status).toBe(200);
    expect(res.body.displayName).toBe("gp-team");
    expect(res.body.members).toBeUndefined();
  });

  it("excludedAttributes asks for the group too: 200 without members, which are not read", async () => {
    const members = vi.spyOn(ResourceQueries.prototype, "members");
    const res = await patch("?excludedAttributes=members").send(addMember(users[++next]!));
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(gid);
    expect(res.body.members).toBeUndefined();
    expect(members).not.toHaveBeenCalled();
  });

  it("Prefer: return=representation is 200 with members; return=minimal is 204 (RFC 7240 §4.2)", async () => {
    const full = await patch().set("Prefer", "return=representation").send(addMember(users[++next]!));
    expect(full.status).toBe(200);
    expect(full.headers["preference-applied"]).toBe("return=representation");
    expect(full.body.members.map((m: { value: string }) => m.value)).toContain(users[next]);
    const minimal = await patch().set("Prefer", "return=minimal").send(addMember(users[++next]!));
    expect(minimal.status).toBe(204);
    expect(minimal.headers["preference-applied"]).toBe("return=minimal");
  });

  it("a User PATCH still answers 200 with the user", async () => {
    const res = await t.http.patch(`/scim/v2/Users/${users[7]}`).set(t.auth).send({ schemas: [PATCH_OP], Operations: [{ op: "replace", path: "title", value: "x" }] });
    expect(res.status).toBe(200);
    expect(res.body.title).toBe("x");
  });
});

describe("members.display (RFC 7643 §4.2)", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp();
  });
  afterAll(() => t?.close());
  const post = async (path: string, body: object) => {
    const res = await t.http.post(path).set(t.auth).send(body);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id as string;
  };
  const displays = async (gid: string) =>
    Object.fromEntries(((await t.http.get(`/scim/v2/Groups/${gid}`).set(t.auth)).body.members as { value: string; display?: string }[]).map((m) => [m.value, m.display]));

  it("is the member's displayName, else a user's userName, and follows renames", async () => {
    const ann = await post("/scim/v2/Users", user("md-ann", { displayName: "Ann" }));
    const bob = await post("/scim/v2/Users", user("md-bob"));
    const inner = await post("/scim/v2/Groups", group("md-inner"));
    const outer = await post("/scim/v2/Groups", group("md-outer", [ann, bob, inner]));
    expect(await displays(outer)).toEqual({ [ann]: "Ann", [bob]: "md-bob", [inner]: "md-inner" });

    await t.http.patch(`/scim/v2/Users/${ann}`).set(t.auth).send({ schemas: [PATCH_OP], Operations: [{ op: "replace", path: "displayName", value: "Ann Liddell" }] });
    await t.http.put(`/scim/v2/Users/${bob}`).set(t.auth).send(user("md-robert"));
    await t.http.patch(`/scim/v2/Groups/${inner}`).set(t.auth).send({ schemas: [PATCH_OP], Operations: [{ op: "replace", path: "displayName", value: "md-core" }] });
    expect(await displays(outer)).toEqual({ [ann]: "Ann Liddell", [bob]: "md-robert", [inner]: "md-core" });

    // Without a displayName the userName shows again.
    await t.http.patch(`/scim/v2/Users/${ann}`).set(t.auth).send({ schemas: [PATCH_OP], Operations: [{ op: "remove", path: "displayName" }] });
    expect((await displays(outer))[ann]).toBe("md-ann");

    // Filters on members.display read the kept value too.
    const found = await t.http.get("/scim/v2/Groups").query({ filter: 'members.display eq "md-core"' }).set(t.auth);
    expect(found.body.Resources.map((g: { id: string }) => g.id)).toEqual([outer]);
  });

  it("listing members reads the display kept with the membership, not each member's record", async () => {
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await post("/scim/v2/Users", user(`md-list${i}`, { displayName: `L${i}` })));
    const gid = await post("/scim/v2/Groups", group("md-list", ids));
    // Change a member's stored record behind the service's back: a listing that read each
    // member's record would show it; the kept display does not.
    // users.data is JSON text on SQLite and jsonb on PostgreSQL (db/schema-pg.ts).
    const set = t.engine === "postgres" ? `jsonb_set(data, '{displayName}', '"changed behind"')` : "json_set(data, '$.displayName', 'changed behind')";
    await t.sql.exec(`UPDATE users SET data = ${set} WHERE id = ?`, [ids[1]]);
    expect((await t.http.get(`/scim/v2/Users/${ids[1]}`).set(t.auth)).body.displayName).toBe("changed behind");
    const res = await t.http.get(`/scim/v2/Groups/${gid}`).set(t.auth);
    expect(res.body.members.map((m: { display: string }) => m.display)).toEqual(["L0", "L1", "L2"]);
  });
});
