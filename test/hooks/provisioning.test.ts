/**
 * SCIM → rules → slapd, end to end: the real app, the real worker, a real slapd (two of them for
 * the fan-out case). Each case checks what the directory holds, not what we meant to send.
 */
import { Client } from "ldapts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PATCH_OP, user } from "../helpers/app.js";
import { provisioned, type Provisioned } from "../helpers/provisioned.js";
import { useSlapd } from "../harness/slapd.js";

const ldap = useSlapd();
const other = useSlapd({ suffix: "dc=other,dc=test" });
const PEOPLE = "ou=people,dc=example,dc=com";
let p: Provisioned;

beforeAll(async () => {
  p = await provisioned(ldap, {
    userRules: [
      { name: "people", target: "slapd", dn: `uid={userName},${PEOPLE}` },
      { name: "engineers", target: "slapd", filter: 'title eq "Engineer"', dn: `uid={userName},ou=groups,dc=example,dc=com`, actions: { deprovision: { onDelete: "disable", onLeaveFilter: "delete" } } },
    ],
  });
});
afterAll(async () => p?.close());

const create = async (body: Record<string, unknown>) => {
  const res = await p.http.post("/scim/v2/Users").set(p.auth).send(body);
  expect(res.status).toBe(201);
  return res.body as { id: string };
};
const patch = (id: string, ops: unknown[]) => p.http.patch(`/scim/v2/Users/${id}`).set(p.auth).send({ schemas: [PATCH_OP], Operations: ops });

describe("users delivered to slapd", () => {
  it("create: the entry holds the mapped attributes and the correlation is stored", async () => {
    const { id } = await create(user("alice", { name: { givenName: "Alice", familyName: "Liddell" }, title: "Author", displayName: "Alice L" }));
    await p.settle();
    const e = await ldap.search(`uid=alice,${PEOPLE}`, ["*", "entryUUID"]);
    expect(e).toMatchObject({ uid: ["alice"], cn: expect.any(Array), sn: ["Liddell"], givenname: ["Alice"], mail: ["alice@example.com"], title: ["Author"] });
    const state = (await p.sql.one<Record<string, string>>("SELECT state, dn, directory_id FROM sync_state WHERE resource_id = ? AND rule = 'people'", [id]))!;
    expect(state).toMatchObject({ state: "in_sync", dn: `uid=alice,${PEOPLE}` });
    expect(state.directory_id).toBe(e!.entryuuid![0]);
  });

  it("update of one attribute writes only that attribute", async () => {
    const { id } = await create(user("bob", { title: "Clerk" }));
    await p.settle();
    // Out of band, someone edits an attribute we map; our next update must not touch it.
    await ldap.admin.modify(`uid=bob,${PEOPLE}`, [new (await import("ldapts")).Change({ operation: "replace", modification: new (await import("ldapts")).Attribute({ type: "title", values: ["Edited in LDAP"] }) })]);
    expect((await patch(id, [{ op: "replace", path: "displayName", value: "Bobby" }])).status).toBe(200);
    await p.settle();
    const e = await ldap.search(`uid=bob,${PEOPLE}`);
    expect(e).toMatchObject({ displayname: ["Bobby"], title: ["Edited in LDAP"] });
  });

  it("disable and re-enable through ppolicy's pwdAccountLockedTime", async () => {
    const { id } = await create(user("carol"));
    await p.settle();
    await patch(id, [{ op: "Replace", path: "active", value: "False" }]);
    await p.settle();
    expect((await ldap.search(`uid=carol,${PEOPLE}`, ["pwdAccountLockedTime"]))?.pwdaccountlockedtime).toEqual(["000001010000Z"]);
    await patch(id, [{ op: "replace", path: "active", value: true }]);
    await p.settle();
    expect((await ldap.search(`uid=carol,${PEOPLE}`, ["pwdAccountLockedTime"]))?.pwdaccountlockedtime ?? []).toEqual([]);
  });

  it("a userName change renames the entry (modifyDN)", async () => {
    const { id } = await create(user("dave"));
    await p.settle();
    await patch(id, [{ op: "replace", path: "userName", value: "david" }]);
    await p.settle();
    expect(await ldap.search(`uid=dave,${PEOPLE}`)).toBeUndefined();
    expect((await ldap.search(`uid=david,${PEOPLE}`))?.uid).toEqual(["david"]);
  });

  it("a password reaches the directory (bind works), is erased once delivered, and is never stored in clear", async () => {
    const { id } = await create(user("erin", { password: "Erin-Pa55word!" }));
    await p.settle();
    const c = new Client({ url: ldap.slapd.url });
    await c.bind(`uid=erin,${PEOPLE}`, "Erin-Pa55word!");
    await c.unbind();
    expect(await p.sql.one("SELECT count(*) AS n FROM sync_state WHERE resource_id = ? AND secret IS NOT NULL", [id])).toEqual({ n: 0 });
    const dump = JSON.stringify(await p.sql.rows("SELECT * FROM changes")) + JSON.stringify(await p.sql.rows("SELECT * FROM sync_state"));
    expect(dump).not.toContain("Erin-Pa55word!");
  });

  it("delete removes the entry (Remove Action delete); the other rule disables (Remove Action disable)", async () => {
    const { id } = await create(user("frank", { title: "Engineer" }));
    await p.settle();
    expect(await ldap.search(`uid=frank,ou=groups,dc=example,dc=com`)).toBeDefined();
    expect((await p.http.delete(`/scim/v2/Users/${id}`).set(p.auth)).status).toBe(204);
    await p.settle();
    expect(await ldap.search(`uid=frank,${PEOPLE}`)).toBeUndefined();
    expect((await ldap.search(`uid=frank,ou=groups,dc=example,dc=com`, ["pwdAccountLockedTime"]))?.pwdaccountlockedtime).toEqual(["000001010000Z"]);
  });

  it("leaving a rule's filter deprovisions with that rule's action", async () => {
    const { id } = await create(user("gina", { title: "Engineer" }));
    await p.settle();
    expect(await ldap.search(`uid=gina,ou=groups,dc=example,dc=com`)).toBeDefined();
    await patch(id, [{ op: "replace", path: "title", value: "Manager" }]);
    await p.settle();
    expect(await ldap.search(`uid=gina,ou=groups,dc=example,dc=com`)).toBeUndefined();
    expect(await ldap.search(`uid=gina,${PEOPLE}`)).toBeDefined();
  });
});

describe("fan-out to two directories", () => {
  let q: Provisioned;
  beforeAll(async () => {
    q = await provisioned(ldap, {
      userRules: [{ name: "here", target: "slapd", dn: `uid={userName},ou=people,dc=example,dc=com` }],
    });
  });
  afterAll(async () => q?.close());

  it("one change reaches every rule's directory", async () => {
    // A second target on the other slapd, configured like the first.
    const r = await provisioned(undefined, {
      targets: [
        { name: "a", directory: "openldap", urls: [ldap.slapd.url], bindDn: ldap.slapd.rootDn, bindPassword: ldap.slapd.rootPassword },
        { name: "b", directory: "openldap", urls: [other.slapd.url], bindDn: other.slapd.rootDn, bindPassword: other.slapd.rootPassword },
      ],
      userRules: [
        { name: "to-a", target: "a", dn: "uid={userName},ou=people,dc=example,dc=com" },
        { name: "to-b", target: "b", dn: "uid={userName},ou=people,dc=other,dc=test" },
      ],
    });
    try {
      expect((await r.http.post("/scim/v2/Users").set(r.auth).send(user("fanny"))).status).toBe(201);
      await r.settle();
      expect(await ldap.search("uid=fanny,ou=people,dc=example,dc=com")).toBeDefined();
      expect(await other.search("uid=fanny,ou=people,dc=other,dc=test")).toBeDefined();
    } finally {
      await r.close();
    }
  });
});
