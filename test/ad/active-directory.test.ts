/**
 * SCIM → rules → Active Directory, end to end: the real app and delivery worker against a real
 * Samba AD DC over verified LDAPS (test/harness/samba.ts). Each case checks what AD holds and what
 * AD lets the user do (bind), not what we meant to send.
 *
 * User tests live in this file, group tests in active-directory-groups.test.ts; each file runs one
 * DC for all its tests. Samba binds the fixed ports 389/636, so only one DC can run at a time: the
 * harness serialises the files' DCs with a lock file. Needs root and the Samba packages
 * (scripts/install-system-deps.sh); without them the suite fails, it never skips.
 */
import { Attribute, Change, Client, InvalidCredentialsError, StrongAuthRequiredError } from "ldapts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PATCH_OP, user } from "../helpers/app.js";
import { provisioned, type Provisioned } from "../helpers/provisioned.js";
import { guidFilter, startSambaAd, useSambaAd } from "../harness/samba.js";

const ad = useSambaAd();

// userAccountControl flags (https://learn.microsoft.com/en-us/troubleshoot/windows-server/active-directory/useraccountcontrol-manipulate-account-properties)
const ACCOUNTDISABLE = 0x2;
const NORMAL_ACCOUNT = 0x200;
const DONT_EXPIRE_PASSWORD = 0x10000;

let PEOPLE: string;
let CONTRACTORS: string;
let MUST_CHANGE: string;
let SALES: string;
let SUPPORT: string;
let REALM: string;
/** Rules "people" (Remove Action delete) and "contractors" (Remove Action disable). */
let p: Provisioned;
/** Rule "must-change": delivered passwords must be changed at next logon. */
let q: Provisioned;
/** Rule "by-department": CN from displayName, OU from title (renames and moves). */
let r: Provisioned;

beforeAll(async () => {
  PEOPLE = await ad.ensureOu("people");
  CONTRACTORS = await ad.ensureOu("contractors");
  MUST_CHANGE = await ad.ensureOu("must-change");
  SALES = await ad.ensureOu("sales");
  SUPPORT = await ad.ensureOu("support");
  REALM = ad.realm.toLowerCase();
  const provisioning = { maxAttempts: 2 };
  p = await provisioned(undefined, {
    targets: [ad.targetConfig()],
    provisioning,
    userRules: [
      { name: "people", target: "ad", dn: `CN={userName},${PEOPLE}` },
      {
        name: "contractors",
        target: "ad",
        filter: 'title eq "Contractor"',
        dn: `CN={userName},${CONTRACTORS}`,
        // sAMAccountName is unique domain-wide and the UPN forest-wide: a second account needs its own.
        attributes: { sAMAccountName: { expr: '"c-" & $substringBefore(userName, "@")' }, userPrincipalName: null },
        actions: { deprovision: { onDelete: "disable" } },
      },
    ],
  });
  q = await provisioned(undefined, {
    targets: [ad.targetConfig()],
    provisioning,
    userRules: [{ name: "must-change", target: "ad", dn: `CN={userName},${MUST_CHANGE}`, actions: { mustChangePassword: true } }],
  });
  r = await provisioned(undefined, {
    targets: [ad.targetConfig()],
    provisioning,
    userRules: [{ name: "by-department", target: "ad", dn: `CN={displayName},OU={title},${ad.baseDn}`, attributes: { cn: "displayName" } }],
  });
});
afterAll(async () => {
  await p?.close();
  await q?.close();
  await r?.close();
});

const upn = (name: string) => `${name}@${REALM}`;
/** A SCIM user whose userName is a UPN (as Entra and Okta send them), so the preset maps sAMAccountName and userPrincipalName. */
const adUser = (name: string, extra: Record<string, unknown> = {}) =>
  user(upn(name), { emails: [{ value: `${name}@example.com`, type: "work", primary: true }], ...extra });
const create = async (app: Provisioned, body: Record<string, unknown>) => {
  const res = await app.http.post("/scim/v2/Users").set(app.auth).send(body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string };
};
const patch = async (app: Provisioned, id: string, ops: unknown[]) => {
  const res = await app.http.patch(`/scim/v2/Users/${id}`).set(app.auth).send({ schemas: [PATCH_OP], Operations: ops });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
};
const syncRow = (app: Provisioned, id: string, rule: string) =>
  app.store.sqlite.prepare("SELECT state, dn, directory_id, last_error, last_code, attempts FROM sync_state WHERE resource_id = ? AND rule = ?").get(id, rule) as
    | { state: string; dn: string | null; directory_id: string | null; last_error: string | null; last_code: number | null; attempts: number }
    | undefined;
const uac = async (dn: string) => Number((await ad.search(dn, ["userAccountControl"]))?.useraccountcontrol?.[0]);
/** The bind's rejection (an Error), or undefined when it succeeded. */
const bindError = (name: string, password: string) => ad.bindAs(name, password).then(() => undefined, (e: unknown) => e as Error);

describe("the DC itself", () => {
  it("serves LDAPS with a certificate that verifies against the CA file, and only against it", async () => {
    await ad.bindAs(ad.adminDn, ad.adminPassword); // verified with ca = the DC's certificate
    const unverified = new Client({ url: ad.url, timeout: 5000, connectTimeout: 2000 });
    try {
      await expect(unverified.bind(ad.adminDn, ad.adminPassword)).rejects.toMatchObject({ code: "DEPTH_ZERO_SELF_SIGNED_CERT" });
    } finally {
      await unverified.unbind().catch(() => undefined);
    }
  });

  it("refuses a plain-LDAP simple bind (8 strongAuthRequired), like hardened AD", async () => {
    const plain = new Client({ url: ad.plainUrl, timeout: 5000, connectTimeout: 2000 });
    try {
      await expect(plain.bind(ad.adminDn, ad.adminPassword)).rejects.toBeInstanceOf(StrongAuthRequiredError);
    } finally {
      await plain.unbind().catch(() => undefined);
    }
  });

  it("a second DC cannot start while this one runs: the harness says why instead of skipping", async () => {
    await expect(startSambaAd({ lockTimeoutMs: 500 })).rejects.toThrow(/already running in this process/);
  });
});

describe("users delivered to Active Directory (Samba AD DC)", () => {
  it("create with a password: one add over LDAPS, enabled, and the user can bind by UPN and by DN", async () => {
    const password = "Tr0ub4dor&3xyz";
    const { id } = await create(p, adUser("alice", { name: { givenName: "Alice", familyName: "Liddell" }, password }));
    await p.settle();
    const dn = `CN=${upn("alice")},${PEOPLE}`;
    const e = await ad.search(dn, ["sAMAccountName", "userPrincipalName", "userAccountControl", "pwdLastSet", "givenName", "sn", "mail", "objectGUID"]);
    expect(e).toMatchObject({ samaccountname: ["alice"], userprincipalname: [upn("alice")], givenname: ["Alice"], sn: ["Liddell"], mail: ["alice@example.com"] });
    expect(Number(e!.useraccountcontrol![0])).toBe(NORMAL_ACCOUNT); // 512: enabled, PASSWD_NOTREQD not set
    expect(e!.pwdlastset![0]).not.toBe("0"); // a password set by the add counts as set now
    // One LDAP write for the whole creation: the add carried password and account state.
    await p.assembled.app.audit.flush(); // rows are written at the end of the event-loop turn
    const writes = p.store.sqlite.prepare("SELECT operation, outcome, detail FROM audit_log WHERE kind = 'ldap' AND resource_id = ? AND target = 'ad'").all(id) as { operation: string; outcome: string; detail: string }[];
    expect(writes.map((w) => [w.operation, w.outcome])).toEqual([["add", "success"]]);
    expect(writes[0]!.detail).toMatch(/unicodePwd/);
    expect(writes[0]!.detail).toMatch(/userAccountControl/);
    // Correlation by objectGUID (ldap-targets.md §1.7).
    const row = syncRow(p, id, "people");
    expect(row).toMatchObject({ state: "in_sync", dn });
    expect(row!.directory_id).toBe(e!.objectguid![0]);
    expect(row!.directory_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    // The user can log on with the SCIM password; a wrong one is refused.
    await ad.bindAs(upn("alice"), password);
    await ad.bindAs(dn, password);
    expect(await bindError(upn("alice"), "wrong-Passw0rd!")).toBeInstanceOf(InvalidCredentialsError);
  });

  it("active=false sets ACCOUNTDISABLE and keeps the other bits; bind refused (data 533); active=true re-enables", async () => {
    const password = "Sp1ne-Ch1ll3r!";
    const { id } = await create(p, adUser("bob", { password }));
    await p.settle();
    const dn = `CN=${upn("bob")},${PEOPLE}`;
    // Someone sets "password never expires" in AD: our disable/enable must keep it (§1.2).
    await ad.admin.modify(dn, new Change({ operation: "replace", modification: new Attribute({ type: "userAccountControl", values: [String(NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD)] }) }));
    await ad.bindAs(upn("bob"), password);

    await patch(p, id, [{ op: "replace", path: "active", value: false }]);
    await p.settle();
    expect(await uac(dn)).toBe(NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD | ACCOUNTDISABLE); // 66050
    const refused = await bindError(upn("bob"), password);
    expect(refused).toBeInstanceOf(InvalidCredentialsError);
    expect(refused!.message).toMatch(/data 533/); // ERROR_ACCOUNT_DISABLED
    expect(syncRow(p, id, "people")?.state).toBe("in_sync");

    await patch(p, id, [{ op: "replace", path: "active", value: true }]);
    await p.settle();
    expect(await uac(dn)).toBe(NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD); // 66048
    await ad.bindAs(upn("bob"), password);
  });

  it("mustChangePassword: pwdLastSet=0 after create and after a password change; bind says must change (data 773)", async () => {
    const { id } = await create(q, adUser("carol", { password: "F1rst-Pa55phrase" }));
    await q.settle();
    const dn = `CN=${upn("carol")},${MUST_CHANGE}`;
    const e = await ad.search(dn, ["pwdLastSet", "userAccountControl"]);
    expect(e).toMatchObject({ pwdlastset: ["0"] });
    expect(Number(e!.useraccountcontrol![0])).toBe(NORMAL_ACCOUNT);
    expect((await bindError(upn("carol"), "F1rst-Pa55phrase"))?.message).toMatch(/data 773/); // ERROR_PASSWORD_MUST_CHANGE

    // A new SCIM password: the reset would set pwdLastSet to now; the planner marks it again after.
    await patch(q, id, [{ op: "replace", path: "password", value: "S3cond-Pa55phrase" }]);
    await q.settle();
    expect(syncRow(q, id, "must-change")?.state).toBe("in_sync");
    expect((await ad.search(dn, ["pwdLastSet"]))?.pwdlastset).toEqual(["0"]);
    expect((await bindError(upn("carol"), "S3cond-Pa55phrase"))?.message).toMatch(/data 773/);
    expect((await bindError(upn("carol"), "F1rst-Pa55phrase"))?.message).not.toMatch(/data 773/); // the old one is gone
  });

  it("a userName change renames the entry with modifyDN: same objectGUID, new sAMAccountName and UPN", async () => {
    const password = "Ren4me-Me-Pl3ase";
    const { id } = await create(p, adUser("dave", { password }));
    await p.settle();
    const oldDn = `CN=${upn("dave")},${PEOPLE}`;
    const guid = (await ad.search(oldDn, ["objectGUID"]))!.objectguid![0]!;
    expect(syncRow(p, id, "people")?.directory_id).toBe(guid);

    await patch(p, id, [{ op: "replace", path: "userName", value: upn("david") }]);
    await p.settle();
    const newDn = `CN=${upn("david")},${PEOPLE}`;
    expect(await ad.search(oldDn, ["1.1"])).toBeUndefined();
    const e = await ad.search(newDn, ["objectGUID", "cn", "name", "sAMAccountName", "userPrincipalName"]);
    expect(e).toMatchObject({ objectguid: [guid], cn: [upn("david")], name: [upn("david")], samaccountname: ["david"], userprincipalname: [upn("david")] });
    expect(await ad.find(ad.baseDn, guidFilter(guid))).toEqual([newDn]);
    const writes = p.store.sqlite.prepare("SELECT operation FROM audit_log WHERE kind = 'ldap' AND resource_id = ? ORDER BY seq").all(id) as { operation: string }[];
    expect(writes.map((w) => w.operation)).toEqual(["add", "modifyDN", "modify"]);
    expect(syncRow(p, id, "people")).toMatchObject({ state: "in_sync", dn: newDn, directory_id: guid });
    await ad.bindAs(upn("david"), password); // same account, same password, new logon name
  });

  it("a DN change across OUs moves the entry (modifyDN with newSuperior), with an escaped comma in the RDN", async () => {
    const { id } = await create(r, adUser("frank", { displayName: "Doe, Frank", title: "sales" }));
    await r.settle();
    const oldDn = `CN=Doe\\, Frank,${SALES}`;
    const guid = (await ad.search(oldDn, ["objectGUID"]))?.objectguid?.[0];
    expect(guid).toBeDefined();

    await patch(r, id, [
      { op: "replace", path: "title", value: "support" },
      { op: "replace", path: "displayName", value: "Doe, Franklin" },
    ]);
    await r.settle();
    const newDn = `CN=Doe\\, Franklin,${SUPPORT}`;
    expect(await ad.search(oldDn, ["1.1"])).toBeUndefined();
    expect(await ad.search(newDn, ["objectGUID", "cn", "displayName"])).toMatchObject({ objectguid: [guid], cn: ["Doe, Franklin"], displayname: ["Doe, Franklin"] });
    expect(await ad.find(ad.baseDn, guidFilter(guid!))).toEqual([newDn]);
    expect(syncRow(r, id, "by-department")).toMatchObject({ state: "in_sync", dn: newDn, directory_id: guid });
  });

  it("SCIM DELETE: Remove Action delete removes the entry; Remove Action disable disables it", async () => {
    const password = "De1ete-Or-D1sable";
    const { id } = await create(p, adUser("erin", { title: "Contractor", password }));
    await p.settle();
    const peopleDn = `CN=${upn("erin")},${PEOPLE}`;
    const contractorDn = `CN=${upn("erin")},${CONTRACTORS}`;
    const guid = (await ad.search(peopleDn, ["objectGUID"]))!.objectguid![0]!;
    expect(await ad.search(contractorDn, ["sAMAccountName"])).toMatchObject({ samaccountname: ["c-erin"] });
    await ad.bindAs(contractorDn, password);

    expect((await p.http.delete(`/scim/v2/Users/${id}`).set(p.auth)).status).toBe(204);
    await p.settle();
    expect(await ad.search(peopleDn, ["1.1"])).toBeUndefined();
    expect(await ad.find(ad.baseDn, guidFilter(guid))).toEqual([]); // a tombstone, invisible without Show Deleted
    expect(syncRow(p, id, "people")).toBeUndefined();
    expect(await uac(contractorDn)).toBe(NORMAL_ACCOUNT | ACCOUNTDISABLE);
    expect((await bindError(contractorDn, password))?.message).toMatch(/data 533/);
  });

  it.each([
    ["longer than 20 characters", "twentyone-characters1", /longer than 20 characters/],
    ["a forbidden character", "bad[name]", /forbids/],
    ["a double quote", 'say"cheese', /forbids/],
    ["a trailing period", "trailing.", /period/],
  ])("a sAMAccountName with %s is a permanent failure recorded in sync_state, and nothing reaches AD", async (_what, sam, problem) => {
    const { id } = await create(p, adUser(sam, { password: "Val1d-Pa55phrase" }));
    await p.settle();
    const row = syncRow(p, id, "people");
    expect(row).toMatchObject({ state: "failed", dn: null, directory_id: null });
    expect(row!.last_error).toMatch(/^rule people: sAMAccountName /);
    expect(row!.last_error).toMatch(problem);
    const escaped = sam.replace(/[\\*()]/g, (c) => `\\${c.charCodeAt(0).toString(16)}`);
    expect(await ad.find(ad.baseDn, `(userPrincipalName=${escaped}@${REALM})`)).toEqual([]);
    const writes = p.store.sqlite.prepare("SELECT count(*) AS n FROM audit_log WHERE kind = 'ldap' AND resource_id = ?").get(id) as { n: number };
    expect(writes.n).toBe(0);
  });
});
