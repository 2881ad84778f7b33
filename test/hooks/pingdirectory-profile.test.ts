/**
 * The PingDirectory profile on slapd (issue 5): slapd loads a small test-only schema defining the
 * PingDirectory attributes scimbridge writes (hooks/ldap/slapd/pingdirectory.ldif), so the
 * `pingdirectory` presets run against a real server: users disabled and enabled through
 * ds-pwp-account-disabled, groups as groupOfUniqueNames with single-value uniqueMember changes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PATCH_OP, user } from "../helpers/app.js";
import { provisioned, type Provisioned } from "../helpers/provisioned.js";
import { useSlapd } from "../harness/slapd.js";

const ldap = useSlapd({ schemas: ["pingdirectory"] });
const PEOPLE = "ou=people,dc=example,dc=com";
const GROUPS = "ou=groups,dc=example,dc=com";
let p: Provisioned;

beforeAll(async () => {
  p = await provisioned(undefined, {
    targets: [
      { name: "pd", directory: "pingdirectory", urls: [ldap.slapd.url], bindDn: ldap.slapd.rootDn, bindPassword: ldap.slapd.rootPassword, concurrency: 4, timeoutMs: 3000, connectTimeoutMs: 1000 },
    ],
    // scimbridgeTestPingAccount lets slapd hold ds-pwp-account-disabled; a real PingDirectory
    // has the attribute as operational and needs no extra class.
    userRules: [{ name: "pd-people", target: "pd", dn: `uid={userName},${PEOPLE}`, objectClasses: ["top", "person", "organizationalPerson", "inetOrgPerson", "scimbridgeTestPingAccount"] }],
    groupRules: [{ name: "pd-groups", target: "pd", dn: `cn={displayName},${GROUPS}`, objectClass: "groupOfUniqueNames" }],
  });
});
afterAll(async () => p?.close());

const patch = (kind: string, id: string, ops: unknown[]) => p.http.patch(`/scim/v2/${kind}/${id}`).set(p.auth).send({ schemas: [PATCH_OP], Operations: ops });

describe("PingDirectory profile on slapd", () => {
  it("disable writes ds-pwp-account-disabled, enable removes it", async () => {
    const res = await p.http.post("/scim/v2/Users").set(p.auth).send(user("pd-pat", { name: { givenName: "Pat", familyName: "Doe" } }));
    expect(res.status).toBe(201);
    await p.settle();
    const dn = `uid=pd-pat,${PEOPLE}`;
    expect(await ldap.search(dn)).toMatchObject({ uid: ["pd-pat"], sn: ["Doe"] });
    expect((await patch("Users", res.body.id, [{ op: "replace", path: "active", value: false }])).status).toBe(200);
    await p.settle();
    expect((await ldap.search(dn, ["ds-pwp-account-disabled"]))?.["ds-pwp-account-disabled"]).toEqual(["TRUE"]);
    expect((await patch("Users", res.body.id, [{ op: "replace", path: "active", value: true }])).status).toBe(200);
    await p.settle();
    expect((await ldap.search(dn, ["ds-pwp-account-disabled"]))?.["ds-pwp-account-disabled"] ?? []).toEqual([]);
  });

  it("groupOfUniqueNames: members as uniqueMember, one single-value modify per change", async () => {
    const a = (await p.http.post("/scim/v2/Users").set(p.auth).send(user("pd-ann"))).body.id as string;
    const b = (await p.http.post("/scim/v2/Users").set(p.auth).send(user("pd-bob"))).body.id as string;
    const g = await p.http
      .post("/scim/v2/Groups")
      .set(p.auth)
      .send({ schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: "pd-team", members: [{ value: a }] });
    expect(g.status).toBe(201);
    await p.settle();
    const dn = `cn=pd-team,${GROUPS}`;
    const entry = await ldap.search(dn, ["objectClass", "uniqueMember"]);
    expect(entry?.objectclass).toContain("groupOfUniqueNames");
    expect(entry?.uniquemember).toEqual([`uid=pd-ann,${PEOPLE}`]);
    await p.assembled.app.audit.flush(); // rows are written at the end of the event-loop turn
    const seq = (await p.sql.one<{ s: number }>("SELECT max(seq) AS s FROM audit_log"))!.s;
    // A group PATCH answers 204 by default (scim.groupPatchResponse).
    expect((await patch("Groups", g.body.id, [{ op: "add", path: "members", value: [{ value: b }] }])).status).toBe(204);
    expect((await patch("Groups", g.body.id, [{ op: "remove", path: `members[value eq "${a}"]` }])).status).toBe(204);
    await p.settle();
    expect((await ldap.search(dn, ["uniqueMember"]))?.uniquemember).toEqual([`uid=pd-bob,${PEOPLE}`]);
    await p.assembled.app.audit.flush();
    const ops = (await p.sql.rows<{ detail: string }>("SELECT detail FROM audit_log WHERE kind = 'ldap' AND seq > ? AND lower(dn) = lower(?) ORDER BY seq", [seq, dn])).map((r) => r.detail);
    // The two PATCHes may coalesce into one delivery; either way each member is its own modify.
    expect(ops.sort()).toEqual(["changes: add uniqueMember", "changes: delete uniqueMember"]);
  });
});
