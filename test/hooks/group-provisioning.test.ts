/**
 * SCIM Groups → group rules → slapd, end to end (issue 5): the real app and worker, a real slapd
 * without refint (so nothing fixes member DNs behind our back). Each case checks the entry in the
 * directory, and the LDAP writes we made (the audit log records every op sent).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PATCH_OP, user } from "../helpers/app.js";
import { provisioned, type Provisioned } from "../helpers/provisioned.js";
import { eventually, useSlapd } from "../harness/slapd.js";

const ldap = useSlapd();
const SUFFIX = "dc=example,dc=com";
const PEOPLE = `ou=people,${SUFFIX}`;
const GROUPS = `ou=groups,${SUFFIX}`;
const GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PLACEHOLDER = `cn=nobody,${SUFFIX}`;
let p: Provisioned;

beforeAll(async () => {
  p = await provisioned(ldap, {
    userRules: [
      { name: "people", target: "slapd", dn: `uid={userName},${PEOPLE}` },
      // Selects users by membership: joining "vpn-users" provisions them under ou=vpn.
      {
        name: "vpn",
        target: "slapd",
        filter: 'groups[display eq "vpn-users"]',
        dn: `uid={userName},ou=vpn,${SUFFIX}`,
        actions: { deprovision: { onDelete: "delete", onLeaveFilter: "delete" } },
      },
    ],
    groupRules: [{ name: "groups", target: "slapd", filter: 'not (displayName sw "local-")', dn: `cn={displayName},${GROUPS}`, attributes: { description: "externalId" } }],
  });
});
afterAll(async () => p?.close());

beforeAll(async () => {
  const { Attribute } = await import("ldapts");
  await ldap.admin.add(`ou=vpn,${SUFFIX}`, [new Attribute({ type: "objectClass", values: ["organizationalUnit"] }), new Attribute({ type: "ou", values: ["vpn"] })]);
});

const createUser = async (name: string, extra: Record<string, unknown> = {}) => {
  const res = await p.http.post("/scim/v2/Users").set(p.auth).send(user(name, extra));
  expect(res.status).toBe(201);
  return res.body.id as string;
};
const createGroup = async (displayName: string, members: string[] = [], extra: Record<string, unknown> = {}) => {
  const res = await p.http
    .post("/scim/v2/Groups")
    .set(p.auth)
    .send({ schemas: [GROUP_SCHEMA], displayName, members: members.map((value) => ({ value })), ...extra });
  expect(res.status).toBe(201);
  return res.body.id as string;
};
const patchGroup = async (id: string, ops: unknown[]) => {
  const res = await p.http.patch(`/scim/v2/Groups/${id}`).set(p.auth).send({ schemas: [PATCH_OP], Operations: ops });
  expect(res.status).toBeLessThan(300);
};
const members = async (cn: string) => ((await ldap.search(`cn=${cn},${GROUPS}`, ["member"]))?.member ?? []).map((m) => m.toLowerCase()).sort();
const userDn = (uid: string) => `uid=${uid},${PEOPLE}`;
/** LDAP writes sent to a DN after audit seq `after`, as "operation detail". */
const writesTo = async (dn: string, after: number) => {
  await p.assembled.app.audit.flush(); // the audit log writes a turn's rows at the turn's end
  const rows = await p.sql.rows<{ operation: string; detail: string }>("SELECT operation, detail FROM audit_log WHERE kind = 'ldap' AND seq > ? AND lower(dn) = lower(?) ORDER BY seq", [after, dn]);
  return rows.map((r) => `${r.operation} ${r.detail}`);
};
/** The audit log writes a turn's rows at the turn's end: flushed before they are read. */
const auditSeq = async () => {
  await p.assembled.app.audit.flush();
  return (await p.sql.one<{ s: number }>("SELECT coalesce(max(seq), 0) AS s FROM audit_log"))!.s;
};

describe("groups delivered to slapd", () => {
  it("a group created with members holds their DNs, written with the add", async () => {
    const a = await createUser("g-ann");
    const b = await createUser("g-ben");
    await p.settle();
    const before = await auditSeq();
    const id = await createGroup("staff", [a, b], { externalId: "ext-staff" });
    await p.settle();
    expect(await members("staff")).toEqual([userDn("g-ann"), userDn("g-ben")].sort());
    expect((await ldap.search(`cn=staff,${GROUPS}`))?.description).toEqual(["ext-staff"]);
    expect(await writesTo(`cn=staff,${GROUPS}`, before)).toEqual([expect.stringMatching(/^add attributes: .*member/)]);
    const state = (await p.sql.one<Record<string, string>>("SELECT state, dn, directory_id FROM sync_state WHERE resource_id = ? AND rule = 'groups'", [id]))!;
    expect(state).toMatchObject({ state: "in_sync", dn: `cn=staff,${GROUPS}` });
    expect(state.directory_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("adding and removing one member is one single-value modify each", async () => {
    const a = await createUser("m-amy");
    const b = await createUser("m-bo");
    const c = await createUser("m-cy");
    const id = await createGroup("team", [a, b]);
    await p.settle();
    let before = await auditSeq();
    await patchGroup(id, [{ op: "add", path: "members", value: [{ value: c }] }]);
    await p.settle();
    expect(await members("team")).toEqual([userDn("m-amy"), userDn("m-bo"), userDn("m-cy")].sort());
    expect(await writesTo(`cn=team,${GROUPS}`, before)).toEqual(["modify changes: add member"]);
    before = await auditSeq();
    await patchGroup(id, [{ op: "remove", path: `members[value eq "${a}"]` }]);
    await p.settle();
    expect(await members("team")).toEqual([userDn("m-bo"), userDn("m-cy")].sort());
    expect(await writesTo(`cn=team,${GROUPS}`, before)).toEqual(["modify changes: delete member"]);
  });

  it("a member added out of band and then over SCIM is not an error (20 typeOrValueExists is success)", async () => {
    const a = await createUser("o-ola");
    const id = await createGroup("oob", []);
    await p.settle();
    const { Change, Attribute } = await import("ldapts");
    await ldap.admin.modify(`cn=oob,${GROUPS}`, [new Change({ operation: "add", modification: new Attribute({ type: "member", values: [userDn("o-ola")] }) })]);
    await patchGroup(id, [{ op: "add", path: "members", value: [{ value: a }] }]);
    await p.settle();
    expect(await members("oob")).toEqual([userDn("o-ola")]);
    expect(await p.sql.one("SELECT state FROM sync_state WHERE resource_id = ? AND rule = 'groups'", [id])).toEqual({ state: "in_sync" });
  });

  it("an empty group is created with the placeholder, which leaves when a member arrives and comes back when the last one leaves", async () => {
    const id = await createGroup("empty-then-not");
    await p.settle();
    expect(await members("empty-then-not")).toEqual([PLACEHOLDER]);
    const a = await createUser("e-eve");
    await patchGroup(id, [{ op: "add", path: "members", value: [{ value: a }] }]);
    await p.settle();
    expect(await members("empty-then-not")).toEqual([userDn("e-eve")]);
    await patchGroup(id, [{ op: "remove", path: "members" }]);
    await p.settle();
    expect(await members("empty-then-not")).toEqual([PLACEHOLDER]);
  });

  it("a rename of the group is a modifyDN; the members stay", async () => {
    const a = await createUser("r-rae");
    const id = await createGroup("old-name", [a]);
    await p.settle();
    await patchGroup(id, [{ op: "replace", path: "displayName", value: "new-name" }]);
    await p.settle();
    expect(await ldap.search(`cn=old-name,${GROUPS}`)).toBeUndefined();
    expect(await members("new-name")).toEqual([userDn("r-rae")]);
  });

  it("delete of the group deletes the entry; a group leaving the filter is deleted too", async () => {
    const id = await createGroup("doomed");
    const id2 = await createGroup("leaver");
    await p.settle();
    expect(await ldap.search(`cn=leaver,${GROUPS}`)).toBeDefined();
    expect((await p.http.delete(`/scim/v2/Groups/${id}`).set(p.auth)).status).toBe(204);
    await patchGroup(id2, [{ op: "replace", path: "displayName", value: "local-leaver" }]);
    await p.settle();
    expect(await ldap.search(`cn=doomed,${GROUPS}`)).toBeUndefined();
    expect(await ldap.search(`cn=leaver,${GROUPS}`)).toBeUndefined();
    expect(await ldap.search(`cn=local-leaver,${GROUPS}`)).toBeUndefined();
  });

  it("a membership whose user is not in the directory yet waits for the user's delivery", async () => {
    // The real ordering problem: the group's delivery runs before its member's. Queue both with
    // the worker stopped, and hold the user's rows back so the group goes first.
    await p.assembled.provisioning.worker.stop();
    const a = await createUser("w-wes");
    const id = await createGroup("waiting", [a]);
    // Deliver only the group: mark the user's rows as not due yet.
    await p.assembled.provisioning.worker.fanOut();
    await p.sql.exec("UPDATE sync_state SET state = 'retrying', next_attempt = '9999' WHERE resource_id = ?", [a]);
    await p.assembled.provisioning.worker.start();
    // Polled while the worker runs: the committed state (the store's read-only connection), never
    // an outcome between two statements of the transaction recording it.
    const groupState = async () => (await p.db.sync.get("Group", id, "groups"))?.state;
    expect(await eventually(async () => (await groupState()) === "in_sync")).toBe(true);
    expect(await members("waiting")).toEqual([PLACEHOLDER]);
    // Nothing was written for the member (its pair is settled until the user's delivery marks it again).
    const pair = await p.sql.one<{ dn: string | null }>("SELECT dn FROM group_member_sync WHERE group_id = ? AND member_id = ?", [id, a]);
    expect(pair?.dn ?? null).toBeNull();
    // Now the user is delivered; its delivery brings the group back, and the member goes in.
    await p.sql.exec("UPDATE sync_state SET next_attempt = NULL WHERE resource_id = ?", [a]);
    p.assembled.provisioning.worker.wake();
    await p.settle();
    expect(await members("waiting")).toEqual([userDn("w-wes")]);
  });

  it("a user's rename updates the groups holding its DN (no refint)", async () => {
    const a = await createUser("u-old");
    const id = await createGroup("renames", [a]);
    await p.settle();
    expect(id).toBeTruthy();
    const res = await p.http
      .patch(`/scim/v2/Users/${a}`)
      .set(p.auth)
      .send({ schemas: [PATCH_OP], Operations: [{ op: "replace", path: "userName", value: "u-new" }] });
    expect(res.status).toBe(200);
    await p.settle();
    expect(await ldap.search(userDn("u-new"))).toBeDefined();
    expect(await members("renames")).toEqual([userDn("u-new")]);
  });

  it("deleting a user removes it from its groups before its entry goes", async () => {
    const a = await createUser("d-dee");
    const b = await createUser("d-dan");
    await createGroup("deletes", [a, b]);
    await p.settle();
    const before = await auditSeq();
    expect((await p.http.delete(`/scim/v2/Users/${a}`).set(p.auth)).status).toBe(204);
    await p.settle();
    expect(await ldap.search(userDn("d-dee"))).toBeUndefined();
    expect(await members("deletes")).toEqual([userDn("d-dan")]);
    const order = (await p.sql.rows<{ operation: string; dn: string }>("SELECT operation, lower(dn) AS dn FROM audit_log WHERE kind = 'ldap' AND seq > ? ORDER BY seq", [before])).map((r) => `${r.operation} ${r.dn}`);
    expect(order.indexOf(`modify cn=deletes,${GROUPS}`)).toBeGreaterThanOrEqual(0);
    expect(order.indexOf(`modify cn=deletes,${GROUPS}`)).toBeLessThan(order.indexOf(`delete ${userDn("d-dee")}`));
  });

  it("a group-based user rule: joining the group provisions the user there, leaving deprovisions", async () => {
    const a = await createUser("v-vic");
    const id = await createGroup("vpn-users");
    await p.settle();
    expect(await ldap.search(`uid=v-vic,ou=vpn,${SUFFIX}`)).toBeUndefined();
    await patchGroup(id, [{ op: "add", path: "members", value: [{ value: a }] }]);
    await p.settle();
    expect(await ldap.search(`uid=v-vic,ou=vpn,${SUFFIX}`)).toBeDefined();
    await patchGroup(id, [{ op: "remove", path: `members[value eq "${a}"]` }]);
    await p.settle();
    expect(await ldap.search(`uid=v-vic,ou=vpn,${SUFFIX}`)).toBeUndefined();
    expect(await ldap.search(userDn("v-vic"))).toBeDefined();
  });

  it("leaving a group-based rule deletes only that rule's entry: other groups keep the user's other DN", async () => {
    const a = await createUser("v-kim");
    const staff = await createGroup("kim-staff", [a]);
    const res = await p.http.get(`/scim/v2/Groups?filter=${encodeURIComponent('displayName eq "vpn-users"')}`).set(p.auth);
    const vpn = res.body.Resources[0].id as string;
    await patchGroup(vpn, [{ op: "add", path: "members", value: [{ value: a }] }]);
    await p.settle();
    expect(await ldap.search(`uid=v-kim,ou=vpn,${SUFFIX}`)).toBeDefined();
    // The user's DN in groups is the first user rule's in config order (people), not vpn's.
    expect(await members("kim-staff")).toEqual([userDn("v-kim")]);
    await patchGroup(vpn, [{ op: "remove", path: `members[value eq "${a}"]` }]);
    await p.settle();
    expect(await ldap.search(`uid=v-kim,ou=vpn,${SUFFIX}`)).toBeUndefined();
    expect(await members("kim-staff")).toEqual([userDn("v-kim")]);
    expect(staff).toBeTruthy();
  });

  it("renaming the group a rule selects by display moves its members out of the rule", async () => {
    const a = await createUser("v-val");
    const res = await p.http.get(`/scim/v2/Groups?filter=${encodeURIComponent('displayName eq "vpn-users"')}`).set(p.auth);
    const id = res.body.Resources[0].id as string;
    await patchGroup(id, [{ op: "add", path: "members", value: [{ value: a }] }]);
    await p.settle();
    expect(await ldap.search(`uid=v-val,ou=vpn,${SUFFIX}`)).toBeDefined();
    await patchGroup(id, [{ op: "replace", path: "displayName", value: "vpn-retired" }]);
    await p.settle();
    expect(await ldap.search(`uid=v-val,ou=vpn,${SUFFIX}`)).toBeUndefined();
  });
});

describe("group rule removed from config", () => {
  it("onRuleRemoved delete deletes its entries and the rule is then forgotten; on PostgreSQL both are left for the operator", async () => {
    const { mkdtempSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = mkdtempSync(join(tmpdir(), "scimbridge-grr-"));
    const dbFile = join(dir, "db.sqlite");
    const users = [{ name: "rr-people", target: "slapd", dn: `uid={userName},${PEOPLE}` }];
    const rules = [
      { name: "rr-del", target: "slapd", filter: 'displayName sw "rr-"', dn: `cn={displayName},${GROUPS}`, actions: { deprovision: { onRuleRemoved: "delete" } } },
      { name: "rr-keep", target: "slapd", filter: 'displayName sw "rk-"', dn: `cn={displayName},${GROUPS}` },
    ];
    let q = await provisioned(ldap, { dbFile, userRules: users, groupRules: rules });
    try {
      for (const name of ["rr-one", "rk-one"]) {
        const res = await q.http.post("/scim/v2/Groups").set(q.auth).send({ schemas: [GROUP_SCHEMA], displayName: name });
        expect(res.status).toBe(201);
      }
      await q.settle();
      expect(await ldap.search(`cn=rr-one,${GROUPS}`)).toBeDefined();
      await q.close();
      q = await provisioned(ldap, { dbFile, userRules: users, groupRules: [] });
      await q.settle();
      if (q.engine === "postgres") {
        // Replicas share the database: a replica still on an older config would take a newer
        // rule for a removed one, so no rule is deprovisioned at start (docs/deployment-replicas.md).
        expect(await ldap.search(`cn=rr-one,${GROUPS}`)).toBeDefined();
        expect(await q.sql.rows("SELECT name FROM known_rules WHERE kind = 'Group' ORDER BY name")).toEqual([{ name: "rr-del" }, { name: "rr-keep" }]);
        return;
      }
      expect(await ldap.search(`cn=rr-one,${GROUPS}`)).toBeUndefined();
      expect(await ldap.search(`cn=rk-one,${GROUPS}`)).toBeDefined(); // onRuleRemoved none (the default)
      expect(await q.sql.rows("SELECT name FROM known_rules WHERE kind = 'Group'")).toEqual([]);
      expect(await q.sql.one("SELECT count(*) AS n FROM group_member_sync WHERE rule LIKE 'rr-%'")).toEqual({ n: 0 });
    } finally {
      await q.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a user deleted under Remove Action disable", () => {
  it("stays in the directory, disabled, and leaves the group entries (it is no longer a member)", async () => {
    const q = await provisioned(ldap, {
      userRules: [{ name: "dis-people", target: "slapd", filter: 'userName sw "dis-"', dn: `uid={userName},${PEOPLE}`, actions: { deprovision: { onDelete: "disable" } } }],
      groupRules: [{ name: "dis-groups", target: "slapd", filter: 'displayName sw "dis-"', dn: `cn={displayName},${GROUPS}` }],
    });
    try {
      const a = (await q.http.post("/scim/v2/Users").set(q.auth).send(user("dis-dora"))).body.id as string;
      const b = (await q.http.post("/scim/v2/Users").set(q.auth).send(user("dis-dan"))).body.id as string;
      const g = await q.http.post("/scim/v2/Groups").set(q.auth).send({ schemas: [GROUP_SCHEMA], displayName: "dis-team", members: [{ value: a }, { value: b }] });
      expect(g.status).toBe(201);
      await q.settle();
      expect(await members("dis-team")).toEqual([userDn("dis-dan"), userDn("dis-dora")]);
      expect((await q.http.delete(`/scim/v2/Users/${a}`).set(q.auth)).status).toBe(204);
      await q.settle();
      expect((await ldap.search(userDn("dis-dora"), ["pwdAccountLockedTime"]))?.pwdaccountlockedtime).toEqual(["000001010000Z"]);
      expect(await members("dis-team")).toEqual([userDn("dis-dan")]);
    } finally {
      await q.close();
    }
  });
});
