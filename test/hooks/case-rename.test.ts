/**
 * Case-only renames reach the directory (ldap-targets.md §7): a SCIM userName `Dan` → `dan` or a
 * group `blue` → `BLUE` names the same entry (DNs match case-insensitively), but the directory
 * must show the identity provider's spelling: the DN and the naming value change with one
 * modifyDN, and the groups' member values follow the user's new spelling. One slapd, the openldap
 * preset and the PingDirectory profile (hooks/ldap/slapd/pingdirectory.ldif). Active Directory:
 * test/ad/active-directory-groups.test.ts ("case-only renames").
 */
import { Attribute, Change, Client } from "ldapts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GROUP_SCHEMA, PATCH_OP, USER_SCHEMA } from "../helpers/app.js";
import { provisioned, type Provisioned } from "../helpers/provisioned.js";
import { addOus, presetTargetsAndRules, SLAPD_PRESETS, SUFFIX } from "../helpers/slapd-presets.js";
import { canBind, useSlapd } from "../harness/slapd.js";

const ldap = useSlapd({ schemas: ["pingdirectory"] });
const REFINT = "olcOverlay={1}refint,olcDatabase={1}mdb,cn=config";
/** Each preset with its group rule's object class and member attribute. */
const PRESETS = SLAPD_PRESETS.map((x) => (x.preset === "openldap" ? { ...x, objectClass: "groupOfNames", memberAttribute: "member" } : { ...x, objectClass: "groupOfUniqueNames", memberAttribute: "uniquemember" }));

let p: Provisioned;
beforeAll(async () => {
  await addOus(ldap, PRESETS.flatMap(({ ou }) => [ou, `${ou}-groups`]));
  p = await provisioned(undefined, {
    ...presetTargetsAndRules(ldap),
    groupRules: PRESETS.map((x) => ({
      name: `${x.preset}-groups`,
      target: x.preset,
      dn: `cn={displayName},ou=${x.ou}-groups,${SUFFIX}`,
      filter: `displayName sw "${x.ou}-"`,
      objectClass: x.objectClass,
    })),
  });
});
afterAll(async () => {
  await setRefint(true);
  await p?.close();
});

/** slapo-refint on member/uniqueMember (the harness's default) or off (only seeAlso), as many directories run. */
async function setRefint(on: boolean): Promise<void> {
  if (!ldap.slapd) return;
  const values = on ? ["member", "uniqueMember"] : ["seeAlso"];
  // cn=config has its own rootdn, with the instance's root password (hooks/ldap/slapd/config.ldif.in).
  const config = new Client({ url: ldap.slapd.url, timeout: 5000, connectTimeout: 1000 });
  try {
    await config.bind("cn=config", ldap.slapd.rootPassword);
    await config.modify(REFINT, new Change({ operation: "replace", modification: new Attribute({ type: "olcRefintAttribute", values }) }));
  } finally {
    await config.unbind().catch(() => undefined);
  }
}

const createUser = async (userName: string, extra: Record<string, unknown> = {}) => {
  const res = await p.http.post("/scim/v2/Users").set(p.auth).send({ schemas: [USER_SCHEMA], userName, name: { familyName: "Doe" }, ...extra });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
};
const createGroup = async (displayName: string, members: string[]) => {
  const res = await p.http.post("/scim/v2/Groups").set(p.auth).send({ schemas: [GROUP_SCHEMA], displayName, members: members.map((value) => ({ value })) });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
};
const patch = async (kind: "Users" | "Groups", id: string, path: string, value: string) => {
  const res = await p.http.patch(`/scim/v2/${kind}/${id}`).set(p.auth).send({ schemas: [PATCH_OP], Operations: [{ op: "replace", path, value }] });
  // A group PATCH answers 204 by default (scim.groupPatchResponse).
  expect(res.status, JSON.stringify(res.body)).toBe(kind === "Groups" ? 204 : 200);
};
/** The DN slapd answers with (its own spelling of the entry's DN), found by entryUUID. */
async function dnOf(base: string, uuid: string): Promise<string[]> {
  const { searchEntries } = await ldap.admin.search(base, { scope: "one", filter: `(entryUUID=${uuid})`, attributes: ["1.1"] });
  return searchEntries.map((e) => e.dn);
}
/**
 * The LDAP writes that succeeded for a resource, in order. Failed attempts are left out: on a
 * loaded machine an add can time out and be retried.
 */
const ldapWrites = async (id: string) =>
  (await p.sql.rows<{ operation: string }>("SELECT operation FROM audit_log WHERE kind = 'ldap' AND resource_id = ? AND outcome = 'success' ORDER BY seq", [id])).map((w) => w.operation);
const syncDn = async (id: string, rule: string) => (await p.sql.one<{ dn: string }>("SELECT dn FROM sync_state WHERE resource_id = ? AND rule = ?", [id, rule]))?.dn;

describe.each(PRESETS)("$preset: case-only renames", ({ preset, ou, memberAttribute }) => {
  const people = `ou=${ou},${SUFFIX}`;
  const groups = `ou=${ou}-groups,${SUFFIX}`;

  it.each([
    ["without refint (nothing rewrites member values behind us)", false],
    ["with refint (slapd rewrites the member value first)", true],
  ])("userName Dan → dan, %s: DN, uid and cn take the new case, same entry, the password still binds, the group's value follows", async (_what, refint) => {
    await setRefint(refint);
    try {
      const [from, to] = refint ? [`${ou}-Rita`, `${ou}-rita`] : [`${ou}-Dan`, `${ou}-dan`];
      const id = await createUser(from, { password: "Case-Pa55word!" });
      const gid = await createGroup(`${ou}-staff-${refint ? "r" : "n"}`, [id]);
      await p.settle();
      const uuid = (await ldap.search(`uid=${from},${people}`, ["entryUUID"]))!.entryuuid![0]!;
      expect(await dnOf(people, uuid)).toEqual([`uid=${from},${people}`]);

      await patch("Users", id, "userName", to);
      await p.settle();
      // slapd's own spelling of the DN, and the naming value it rewrote (deleteoldrdn, RFC 4511 §4.9).
      expect(await dnOf(people, uuid)).toEqual([`uid=${to},${people}`]);
      expect(await ldap.search(`uid=${to},${people}`, ["uid", "cn"])).toMatchObject({ uid: [to], cn: [to] });
      expect(await ldapWrites(id)).toEqual(["add", "modifyDN", "modify"]); // add, the rename, cn (an ordinary attribute here)
      expect(await syncDn(id, preset)).toBe(`uid=${to},${people}`);
      expect(await canBind(ldap.slapd.url, `uid=${to},${people}`, "Case-Pa55word!")).toBe(true);
      // The group holds the new spelling (written by the group delivery without refint, by refint with it).
      const group = await ldap.search(`cn=${ou}-staff-${refint ? "r" : "n"},${groups}`, [memberAttribute]);
      expect(group?.[memberAttribute]).toEqual([`uid=${to},${people}`]);
      expect(await syncDn(gid, `${preset}-groups`)).toBeDefined();
      const memberRow = await p.sql.one<{ dn: string }>("SELECT dn FROM group_member_sync WHERE group_id = ? AND member_id = ?", [gid, id]);
      expect(memberRow?.dn).toBe(`uid=${to},${people}`);
    } finally {
      await setRefint(true);
    }
  });

  it("and back again (dan → Dan), and a case-only rename together with another change", async () => {
    const id = await createUser(`${ou}-Eve`);
    await p.settle();
    await patch("Users", id, "userName", `${ou}-eve`);
    await p.settle();
    await patch("Users", id, "userName", `${ou}-EVE`);
    await patch("Users", id, "name.familyName", "Smith");
    await p.settle();
    const e = await ldap.search(`uid=${ou}-EVE,${people}`, ["entryUUID", "uid", "cn", "sn"]);
    expect(e).toMatchObject({ uid: [`${ou}-EVE`], cn: [`${ou}-EVE`], sn: ["Smith"] });
    expect(await dnOf(people, e!.entryuuid![0]!)).toEqual([`uid=${ou}-EVE,${people}`]);
    const { searchEntries } = await ldap.admin.search(people, { scope: "one", filter: `(uid=${ou}-eve)`, attributes: ["1.1"] });
    expect(searchEntries).toHaveLength(1); // one entry, renamed in place: nothing added beside it
    expect(await p.sql.one("SELECT state FROM sync_state WHERE resource_id = ? AND rule = ?", [id, preset])).toEqual({ state: "in_sync" });
  });

  it("group blue → BLUE: DN and cn take the new case, same entry, members kept", async () => {
    const member = await createUser(`${ou}-gm`);
    // The member's entry first, so the group's add carries it (the writes counted below are the rename's).
    await p.settle();
    const gid = await createGroup(`${ou}-blue`, [member]);
    await p.settle();
    const uuid = (await ldap.search(`cn=${ou}-blue,${groups}`, ["entryUUID"]))!.entryuuid![0]!;

    await patch("Groups", gid, "displayName", `${ou}-BLUE`);
    await p.settle();
    expect(await dnOf(groups, uuid)).toEqual([`cn=${ou}-BLUE,${groups}`]);
    const g = await ldap.search(`cn=${ou}-BLUE,${groups}`, ["cn", memberAttribute]);
    expect(g).toMatchObject({ cn: [`${ou}-BLUE`], [memberAttribute]: [`uid=${ou}-gm,${people}`] });
    expect(await ldapWrites(gid)).toEqual(["add", "modifyDN"]);
    expect(await syncDn(gid, `${preset}-groups`)).toBe(`cn=${ou}-BLUE,${groups}`);
  });
});
