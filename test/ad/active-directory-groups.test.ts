/**
 * SCIM Groups → group rules → Active Directory, end to end (issue 5): the real app and delivery
 * worker against a real Samba AD DC over verified LDAPS (test/harness/samba.ts), with the
 * active-directory group preset. Each case checks what AD holds (objectClass, groupType, member,
 * the users' memberOf back-link) and the LDAP writes we sent (the audit log records every op).
 *
 * Its own DC (one per file, from the cached template): Samba binds the fixed ports 389/636, and
 * the harness's lock makes this file wait while active-directory.test.ts holds the DC.
 *
 * AD behaviour these tests lean on (ldap-targets.md §1.5/§1.6, measured on Samba 4.17):
 * - adding a member value already there answers 68, removing one not there answers 53: both mean
 *   "already so" for a member write and must not fail the delivery;
 * - member DNs must name existing entries (32 otherwise), so a membership waits for its user;
 * - AD rewrites member values itself when a member entry is renamed, and drops them when it is
 *   deleted (member is a linked attribute, memberOf its back-link);
 * - groups may be empty (member is a MAY of class group): no placeholder.
 */
import { Attribute, Change } from "ldapts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GROUP_SCHEMA, PATCH_OP, user } from "../helpers/app.js";
import { provisioned, type Provisioned } from "../helpers/provisioned.js";
import { guidFilter, useSambaAd } from "../harness/samba.js";

const ad = useSambaAd();

/** groupType values, MS-ADTS 2.2.12 (signed 32-bit: 0x80000000 is the security bit). */
const GLOBAL_SECURITY = -2147483646; // 0x80000002
const DOMAIN_LOCAL_DISTRIBUTION = 4; // 0x00000004
const UNIVERSAL_SECURITY = -2147483640; // 0x80000008
/** sAMAccountType AD derives from groupType (MS-ADTS 2.2.15 / MS-SAMR 2.2.1.9). */
const SAM_GROUP_OBJECT = 0x10000000; // global or universal security group
const SAM_NON_SECURITY_ALIAS_OBJECT = 0x20000001; // domain-local distribution group

let PEOPLE: string;
let GROUPS: string;
let REALM: string;
let p: Provisioned;

beforeAll(async () => {
  PEOPLE = await ad.ensureOu("people");
  GROUPS = await ad.ensureOu("Groups");
  REALM = ad.realm.toLowerCase();
  p = await provisioned(undefined, {
    targets: [ad.targetConfig()],
    provisioning: { maxAttempts: 2 },
    userRules: [{ name: "people", target: "ad", dn: `CN={userName},${PEOPLE}` }],
    groupRules: [
      // The default rule (global security); the other two take the groups named for them.
      {
        name: "ad-groups",
        target: "ad",
        preset: "active-directory",
        filter: 'not (displayName sw "dl-") and not (displayName sw "univ-")',
        dn: `CN={displayName},${GROUPS}`,
        groupType: { scope: "global", security: true },
      },
      { name: "dl", target: "ad", preset: "active-directory", filter: 'displayName sw "dl-"', dn: `CN={displayName},${GROUPS}`, groupType: { scope: "domainLocal", security: false } },
      { name: "univ", target: "ad", preset: "active-directory", filter: 'displayName sw "univ-"', dn: `CN={displayName},${GROUPS}`, groupType: { scope: "universal", security: true } },
    ],
  });
});
afterAll(async () => p?.close());

const upn = (name: string) => `${name}@${REALM}`;
const userDn = (name: string) => `CN=${upn(name)},${PEOPLE}`;
const groupDn = (displayName: string) => `CN=${displayName},${GROUPS}`;

const createUser = async (name: string) => {
  const res = await p.http.post("/scim/v2/Users").set(p.auth).send(user(upn(name)));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
};
const createGroup = async (displayName: string, members: string[] = []) => {
  const res = await p.http
    .post("/scim/v2/Groups")
    .set(p.auth)
    .send({ schemas: [GROUP_SCHEMA], displayName, members: members.map((value) => ({ value })) });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
};
const patchGroup = async (id: string, ops: unknown[]) => {
  const res = await p.http.patch(`/scim/v2/Groups/${id}`).set(p.auth).send({ schemas: [PATCH_OP], Operations: ops });
  expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
};
const addMember = (id: string, member: string) => patchGroup(id, [{ op: "add", path: "members", value: [{ value: member }] }]);
const removeMember = (id: string, member: string) => patchGroup(id, [{ op: "remove", path: `members[value eq "${member}"]` }]);

/** The group's member values as AD holds them, lower-cased and sorted (AD spells DNs its own way). */
const members = async (dn: string) => ((await ad.search(dn, ["member"]))?.member ?? []).map((m) => m.toLowerCase()).sort();
const dns = (...names: string[]) => names.map((n) => userDn(n).toLowerCase()).sort();
const memberOf = async (dn: string) => ((await ad.search(dn, ["memberOf"]))?.memberof ?? []).map((m) => m.toLowerCase());
const syncRow = (id: string, rule: string) =>
  p.store.sqlite.prepare("SELECT state, dn, directory_id, last_error, last_code FROM sync_state WHERE resource_id = ? AND rule = ?").get(id, rule) as
    | { state: string; dn: string | null; directory_id: string | null; last_error: string | null; last_code: number | null }
    | undefined;
/** The audit log writes a turn's rows at the turn's end: flushed before they are read. */
const auditSeq = async () => {
  await p.assembled.app.audit.flush();
  return (p.store.sqlite.prepare("SELECT coalesce(max(seq), 0) AS s FROM audit_log").get() as { s: number }).s;
};
/** LDAP writes sent to a DN after audit seq `after`, as "operation outcome detail". */
const writesTo = async (dn: string, after = 0) => {
  await p.assembled.app.audit.flush(); // the audit log writes a turn's rows at the turn's end
  const rows = p.store.sqlite.prepare("SELECT operation, outcome, detail FROM audit_log WHERE kind = 'ldap' AND seq > ? AND lower(dn) = lower(?) ORDER BY seq").all(after, dn) as {
    operation: string;
    outcome: string;
    detail: string;
  }[];
  return rows.map((r) => `${r.operation} ${r.outcome} ${r.detail}`);
};
const memberChange = (operation: "add" | "delete", dn: string) =>
  new Change({ operation, modification: new Attribute({ type: "member", values: [dn] }) });
/** Bounded polling (for while rows are held back, where settle() would wait for them). */
async function until(cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return cond();
}

describe("groups delivered to Active Directory (Samba AD DC)", () => {
  it("a group created with members: objectClass group, global security groupType, a sAMAccountName, member = the users' DNs, memberOf back-links", async () => {
    const a = await createUser("gina");
    const b = await createUser("gus");
    await p.settle();
    const before = await auditSeq();
    const id = await createGroup("Staff", [a, b]);
    await p.settle();
    const dn = groupDn("Staff");
    const e = await ad.search(dn, ["objectClass", "groupType", "sAMAccountName", "sAMAccountType", "displayName", "cn", "objectGUID"]);
    expect(e?.objectclass?.map((c) => c.toLowerCase())).toContain("group");
    expect(Number(e!.grouptype![0])).toBe(GLOBAL_SECURITY);
    expect(Number(e!.samaccounttype![0])).toBe(SAM_GROUP_OBJECT); // AD read the groupType as a security group
    expect(e).toMatchObject({ samaccountname: ["Staff"], displayname: ["Staff"], cn: ["Staff"] });
    expect(await members(dn)).toEqual(dns("gina", "gus"));
    expect(await memberOf(userDn("gina"))).toEqual([dn.toLowerCase()]);
    expect(await memberOf(userDn("gus"))).toEqual([dn.toLowerCase()]);
    // One add carrying the members (AD accepts them: the users exist already).
    expect(await writesTo(dn, before)).toEqual([expect.stringMatching(/^add success attributes: .*member/)]);
    const row = syncRow(id, "ad-groups");
    expect(row).toMatchObject({ state: "in_sync", dn });
    expect(row!.directory_id).toBe(e!.objectguid![0]); // correlated by objectGUID
    expect(syncRow(id, "dl")?.state).toBe("out_of_scope");
  });

  it.each([
    ["domainLocal distribution", "dl-mailing", "dl", DOMAIN_LOCAL_DISTRIBUTION, SAM_NON_SECURITY_ALIAS_OBJECT],
    ["universal security", "univ-admins", "univ", UNIVERSAL_SECURITY, SAM_GROUP_OBJECT],
  ])("groupType from config: %s", async (_what, name, rule, groupType, samAccountType) => {
    const id = await createGroup(name);
    await p.settle();
    const e = await ad.search(groupDn(name), ["groupType", "sAMAccountType", "sAMAccountName"]);
    expect(Number(e?.grouptype?.[0])).toBe(groupType);
    expect(Number(e?.samaccounttype?.[0])).toBe(samAccountType);
    expect(e?.samaccountname).toEqual([name]);
    expect(syncRow(id, rule)?.state).toBe("in_sync");
    expect(syncRow(id, "ad-groups")?.state).toBe("out_of_scope");
  });

  it("adding and removing one member over SCIM PATCH is one single-value modify each", async () => {
    const a = await createUser("mia");
    const b = await createUser("max");
    const id = await createGroup("Team", [a]);
    await p.settle();
    const dn = groupDn("Team");
    let before = await auditSeq();
    await addMember(id, b);
    await p.settle();
    expect(await members(dn)).toEqual(dns("mia", "max"));
    expect(await writesTo(dn, before)).toEqual(["modify success changes: add member"]);
    before = await auditSeq();
    await removeMember(id, a);
    await p.settle();
    expect(await members(dn)).toEqual(dns("max"));
    expect(await writesTo(dn, before)).toEqual(["modify success changes: delete member"]);
    expect(await memberOf(userDn("mia"))).toEqual([]);
    expect(syncRow(id, "ad-groups")?.state).toBe("in_sync");
  });

  it("idempotent member writes: a member added out of band (AD 68) and one removed out of band (AD 53) end in_sync", async () => {
    const a = await createUser("olga");
    const b = await createUser("otto");
    const id = await createGroup("Oob", [a]);
    await p.settle();
    const dn = groupDn("Oob");
    // What AD answers, straight: 68 for a value already there, 53 for one not there (§1.5).
    await ad.admin.modify(dn, memberChange("add", userDn("otto")));
    await expect(ad.admin.modify(dn, memberChange("add", userDn("otto")))).rejects.toMatchObject({ code: 68 });
    await ad.admin.modify(dn, memberChange("delete", userDn("olga")));
    await expect(ad.admin.modify(dn, memberChange("delete", userDn("olga")))).rejects.toMatchObject({ code: 53 });

    const before = await auditSeq();
    await addMember(id, b);
    await p.settle();
    expect(syncRow(id, "ad-groups")).toMatchObject({ state: "in_sync", last_error: null });
    await removeMember(id, a);
    await p.settle();
    expect(syncRow(id, "ad-groups")).toMatchObject({ state: "in_sync", last_error: null });
    // Both were sent, both answered "already so", both recorded as successes.
    expect(await writesTo(dn, before)).toEqual(["modify success changes: add member", "modify success changes: delete member"]);
    expect(await members(dn)).toEqual(dns("otto"));
  });

  it("an empty group is created with no member and no placeholder; the last member leaving leaves it empty", async () => {
    const id = await createGroup("Empty");
    await p.settle();
    const dn = groupDn("Empty");
    expect(await ad.search(dn, ["objectClass"])).toBeDefined();
    expect(await members(dn)).toEqual([]);
    expect(await writesTo(dn)).toEqual([expect.not.stringMatching(/member/)]); // the add named no member
    expect(syncRow(id, "ad-groups")?.state).toBe("in_sync");
    expect(await ad.find(ad.baseDn, "(cn=nobody)")).toEqual([]);

    const a = await createUser("ella");
    await addMember(id, a);
    await p.settle();
    expect(await members(dn)).toEqual(dns("ella"));
    const before = await auditSeq();
    await patchGroup(id, [{ op: "remove", path: "members" }]);
    await p.settle();
    expect(await members(dn)).toEqual([]);
    expect(await writesTo(dn, before)).toEqual(["modify success changes: delete member"]); // no placeholder put back
    expect(await ad.search(dn, ["1.1"])).toBeDefined();
    expect(syncRow(id, "ad-groups")?.state).toBe("in_sync");
  });

  it("a membership queued before its user's delivery: the group is created without it (AD rejects unknown member DNs), the member arrives with the user", async () => {
    const worker = p.assembled.provisioning.worker;
    await worker.stop();
    let held = true;
    let a = "";
    try {
      a = await createUser("wes");
      const id = await createGroup("Waiting", [a]);
      await worker.fanOut();
      // The user's rows are not due yet, so the group is delivered first.
      await p.store.transaction(() => p.store.sqlite.prepare("UPDATE sync_state SET state = 'retrying', next_attempt = '9999' WHERE resource_id = ?").run(a));
      await worker.start();
      const dn = groupDn("Waiting");
      // Polled while the worker runs: the committed state (the store's read-only connection).
      expect(await until(async () => (await p.store.sync.get("Group", id, "ad-groups"))?.state === "in_sync")).toBe(true);
      expect(await ad.search(dn, ["objectClass"])).toBeDefined();
      expect(await members(dn)).toEqual([]);
      expect(await writesTo(dn)).toEqual([expect.not.stringMatching(/member/)]); // the add did not name the member
      expect(await ad.search(userDn("wes"), ["1.1"])).toBeUndefined();
      // Which is why it was left out: AD refuses a member DN naming no entry (32, 00000525).
      await expect(ad.admin.modify(dn, memberChange("add", userDn("wes")))).rejects.toMatchObject({ code: 32 });

      await p.store.transaction(() => p.store.sqlite.prepare("UPDATE sync_state SET next_attempt = NULL WHERE resource_id = ?").run(a));
      held = false;
      worker.wake();
      expect(await until(async () => (await members(dn)).length > 0)).toBe(true);
      await p.settle();
      expect(await members(dn)).toEqual(dns("wes"));
      expect(await memberOf(userDn("wes"))).toEqual([dn.toLowerCase()]);
      expect(await writesTo(dn)).toEqual([expect.stringMatching(/^add success/), "modify success changes: add member"]);
      expect(syncRow(id, "ad-groups")).toMatchObject({ state: "in_sync", last_error: null });
    } finally {
      if (held && a) {
        await p.store.transaction(() => p.store.sqlite.prepare("UPDATE sync_state SET next_attempt = NULL WHERE resource_id = ?").run(a));
        worker.wake();
      }
    }
  });

  it("a user rename (modifyDN): AD rewrites the member value itself; our refresh (53 on the old DN, 68 on the new) ends in_sync", async () => {
    const a = await createUser("rita");
    const id = await createGroup("Renames", [a]);
    await p.settle();
    const dn = groupDn("Renames");
    const guid = (await ad.search(dn, ["objectGUID"]))!.objectguid![0]!;
    const before = await auditSeq();
    const res = await p.http
      .patch(`/scim/v2/Users/${a}`)
      .set(p.auth)
      .send({ schemas: [PATCH_OP], Operations: [{ op: "replace", path: "userName", value: upn("rosa") }] });
    expect(res.status).toBe(200);
    await p.settle();
    expect(await ad.search(userDn("rita"), ["1.1"])).toBeUndefined();
    expect(await members(dn)).toEqual(dns("rosa"));
    expect(await memberOf(userDn("rosa"))).toEqual([dn.toLowerCase()]);
    expect(syncRow(a, "people")).toMatchObject({ state: "in_sync", dn: userDn("rosa") });
    expect(syncRow(id, "ad-groups")).toMatchObject({ state: "in_sync", last_error: null, directory_id: guid });
    // The refresh converged the pair to the new DN: add it (already there: 68), remove the old (gone: 53).
    expect(await writesTo(dn, before)).toEqual(["modify success changes: add member", "modify success changes: delete member"]);
    // What AD answered to those two writes, asked again directly.
    await expect(ad.admin.modify(dn, memberChange("add", userDn("rosa")))).rejects.toMatchObject({ code: 68 });
    await expect(ad.admin.modify(dn, memberChange("delete", userDn("rita")))).rejects.toMatchObject({ code: 53 });
    const pair = p.store.sqlite.prepare("SELECT dn, dirty FROM group_member_sync WHERE rule = 'ad-groups' AND group_id = ? AND member_id = ?").get(id, a) as { dn: string; dirty: number };
    expect(pair).toMatchObject({ dn: userDn("rosa"), dirty: 0 });
  });

  it("deleting a user (Remove Action delete): the group drops it before the user's entry is deleted", async () => {
    const a = await createUser("dora");
    const b = await createUser("dirk");
    const id = await createGroup("Deletes", [a, b]);
    await p.settle();
    const dn = groupDn("Deletes");
    const before = await auditSeq();
    expect((await p.http.delete(`/scim/v2/Users/${a}`).set(p.auth)).status).toBe(204);
    await p.settle();
    expect(await ad.search(userDn("dora"), ["1.1"])).toBeUndefined();
    expect(await members(dn)).toEqual(dns("dirk"));
    const order = (p.store.sqlite.prepare("SELECT operation, lower(dn) AS dn FROM audit_log WHERE kind = 'ldap' AND seq > ? ORDER BY seq").all(before) as { operation: string; dn: string }[]).map(
      (r) => `${r.operation} ${r.dn}`,
    );
    expect(order).toEqual([`modify ${dn.toLowerCase()}`, `delete ${userDn("dora").toLowerCase()}`]);
    expect(syncRow(a, "people")).toBeUndefined();
    expect(syncRow(id, "ad-groups")).toMatchObject({ state: "in_sync", last_error: null });
  });

  it("a group rename is a modifyDN (same objectGUID, members kept) with the preset's sAMAccountName; delete removes the entry", async () => {
    const a = await createUser("nina");
    const id = await createGroup("Old Name", [a]);
    await p.settle();
    const oldDn = groupDn("Old Name");
    const guid = (await ad.search(oldDn, ["objectGUID"]))!.objectguid![0]!;
    const before = await auditSeq();
    await patchGroup(id, [{ op: "replace", path: "displayName", value: "New Name" }]);
    await p.settle();
    const newDn = groupDn("New Name");
    expect(await ad.search(oldDn, ["1.1"])).toBeUndefined();
    const e = await ad.search(newDn, ["objectGUID", "cn", "name", "sAMAccountName", "displayName", "groupType"]);
    expect(e).toMatchObject({ objectguid: [guid], cn: ["New Name"], name: ["New Name"], samaccountname: ["New Name"], displayname: ["New Name"], grouptype: [String(GLOBAL_SECURITY)] });
    expect(await ad.find(ad.baseDn, guidFilter(guid))).toEqual([newDn]);
    expect(await members(newDn)).toEqual(dns("nina"));
    expect(await memberOf(userDn("nina"))).toEqual([newDn.toLowerCase()]);
    const ops = (p.store.sqlite.prepare("SELECT operation, detail FROM audit_log WHERE kind = 'ldap' AND seq > ? AND resource_id = ? ORDER BY seq").all(before, id) as { operation: string; detail: string }[]).map(
      (r) => `${r.operation} ${r.detail}`,
    );
    expect(ops).toEqual([expect.stringMatching(/^modifyDN /), expect.stringMatching(/^modify changes: .*sAMAccountName/)]);
    expect(ops[1]).not.toMatch(/\bcn\b/i); // the RDN changes only through modifyDN (AD: 67 notAllowedOnRDN)
    expect(syncRow(id, "ad-groups")).toMatchObject({ state: "in_sync", dn: newDn, directory_id: guid });

    expect((await p.http.delete(`/scim/v2/Groups/${id}`).set(p.auth)).status).toBe(204);
    await p.settle();
    expect(await ad.search(newDn, ["1.1"])).toBeUndefined();
    expect(await ad.find(ad.baseDn, guidFilter(guid))).toEqual([]);
    expect(await memberOf(userDn("nina"))).toEqual([]);
    expect(syncRow(id, "ad-groups")).toBeUndefined();
  });

  it("a displayName that makes an invalid sAMAccountName fails permanently with a clear error, and nothing reaches AD", async () => {
    const id = await createGroup("bad[group]");
    await p.settle();
    const row = syncRow(id, "ad-groups");
    expect(row).toMatchObject({ state: "failed", dn: null, directory_id: null });
    expect(row!.last_error).toMatch(/^group rule ad-groups: sAMAccountName "bad\[group\]" contains a character AD forbids/);
    expect(row!.last_code).toBeNull(); // refused before any LDAP op, not by AD
    const writes = p.store.sqlite.prepare("SELECT count(*) AS n FROM audit_log WHERE kind = 'ldap' AND resource_id = ?").get(id) as { n: number };
    expect(writes.n).toBe(0);
    expect(await ad.find(GROUPS, "(cn=bad*)")).toEqual([]);
  });
});

// A case-only rename names the same object, but AD must show the identity provider's spelling
// (ldap-targets.md §7): one modifyDN respells DN, cn and name (a modify of cn is 67), and a group's
// member value shows the member's new DN without a write from us (AD keeps the link to the object).
// The slapd counterpart is test/hooks/case-rename.test.ts.
describe("case-only renames in Active Directory (Samba AD DC)", () => {
  const password = "Case-Pa55phrase!";

  it("userName Dan → dan: DN, cn and name by one modifyDN, sAMAccountName and UPN by a modify; same object; the password binds; the group shows the new DN", async () => {
    const res = await p.http.post("/scim/v2/Users").set(p.auth).send(user(upn("Dan"), { password }));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const id = res.body.id as string;
    const gid = await createGroup("case-staff", [id]);
    await p.settle();
    const guid = (await ad.search(userDn("Dan"), ["objectGUID"]))!.objectguid![0]!;
    const before = await auditSeq();

    expect((await p.http.patch(`/scim/v2/Users/${id}`).set(p.auth).send({ schemas: [PATCH_OP], Operations: [{ op: "replace", path: "userName", value: upn("dan") }] })).status).toBe(200);
    await p.settle();
    const newDn = userDn("dan");
    expect(await ad.find(ad.baseDn, guidFilter(guid))).toEqual([newDn]); // AD's own spelling of the DN
    expect(await ad.search(newDn, ["cn", "name", "distinguishedName", "sAMAccountName", "userPrincipalName"])).toMatchObject({
      cn: [upn("dan")],
      name: [upn("dan")],
      distinguishedname: [newDn],
      samaccountname: ["dan"],
      userprincipalname: [upn("dan")],
    });
    // The RDN attribute changes only through modifyDN; the modify carries the ordinary attributes
    // (writesTo compares DNs lower-cased: both spellings).
    expect(await writesTo(newDn, before)).toEqual([
      "modifyDN success newRdn: CN=dan@test.example.com",
      "modify success changes: replace sAMAccountName, replace userPrincipalName",
    ]);
    await ad.bindAs(upn("dan"), password);
    await ad.bindAs(newDn, password);
    // Nothing sent to the group; its value already shows the new DN, and delivery records that.
    expect((await ad.search(groupDn("case-staff"), ["member"]))?.member).toEqual([newDn]);
    expect(await writesTo(groupDn("case-staff"), before)).toEqual([]);
    expect(syncRow(gid, "ad-groups")?.state).toBe("in_sync");
    const pair = p.store.sqlite.prepare("SELECT dn FROM group_member_sync WHERE group_id = ? AND member_id = ?").get(gid, id) as { dn: string };
    expect(pair.dn).toBe(newDn);
  });

  it("group blue → BLUE: DN, cn and name by one modifyDN, the preset's sAMAccountName and displayName by a modify; same object; members kept", async () => {
    const member = await createUser("gm");
    const gid = await createGroup("blue", [member]);
    await p.settle();
    const guid = (await ad.search(groupDn("blue"), ["objectGUID"]))!.objectguid![0]!;
    const before = await auditSeq();

    await patchGroup(gid, [{ op: "replace", path: "displayName", value: "BLUE" }]);
    await p.settle();
    expect(await ad.find(ad.baseDn, guidFilter(guid))).toEqual([groupDn("BLUE")]);
    expect(await ad.search(groupDn("BLUE"), ["cn", "name", "sAMAccountName", "member"])).toMatchObject({ cn: ["BLUE"], name: ["BLUE"], samaccountname: ["BLUE"], member: [userDn("gm")] });
    expect((await ad.search(userDn("gm"), ["memberOf"]))?.memberof).toEqual([groupDn("BLUE")]);
    expect(await writesTo(groupDn("BLUE"), before)).toEqual([
      "modifyDN success newRdn: CN=BLUE",
      "modify success changes: replace sAMAccountName, replace displayName",
    ]);
    expect(syncRow(gid, "ad-groups")).toMatchObject({ state: "in_sync", dn: groupDn("BLUE"), directory_id: guid });
  });
});
