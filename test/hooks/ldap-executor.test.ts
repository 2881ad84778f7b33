/**
 * executeOps against a real slapd: every idempotency rule is checked by running the same ops
 * twice (the second run stands for a retry after an unseen success, ldap-targets.md §5.5).
 */
import { describe, expect, it } from "vitest";
import { Attribute, Change, Client } from "ldapts";
import type { LdapOp } from "../../hooks/planning/ops.js";
import { executeOps, guidString, LdapDeliveryError, ldaptsNewDn, readEntry, type ExecOptions } from "../../hooks/ldap/executor.js";
import { LdapTarget } from "../../hooks/ldap/connection.js";
import { freePort } from "../../hooks/ldap/slapd.js";
import { useSlapd } from "../harness/slapd.js";

const S = "dc=example,dc=com";
const PEOPLE = `ou=people,${S}`;
const GROUPS = `ou=groups,${S}`;
const ldap = useSlapd();
const plain: ExecOptions = { createIfMissing: false };

function person(uid: string, extra: Record<string, string[]> = {}): Extract<LdapOp, { kind: "add" }> {
  return {
    kind: "add",
    dn: `uid=${uid},${PEOPLE}`,
    attributes: { objectClass: ["inetOrgPerson"], uid: [uid], cn: [`User ${uid}`], sn: ["Test"], ...extra },
  };
}

/** Runs ops twice; both runs must succeed with the same result. */
async function twice(ops: LdapOp[], opts: ExecOptions = plain) {
  const target = ldap.target();
  const first = await executeOps(target, ops, opts);
  const second = await executeOps(target, ops, opts);
  expect(second.dn).toBe(first.dn);
  expect(second.applied).toBe(ops.length);
  return { first, second };
}

async function failure(p: Promise<unknown>): Promise<LdapDeliveryError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(LdapDeliveryError);
  return e as LdapDeliveryError;
}

describe("add", () => {
  it("creates the entry and returns its entryUUID; a repeated add merges into it", async () => {
    const { first, second } = await twice([person("alice", { mail: ["alice@example.com"] })]);
    expect(first.dn).toBe(`uid=alice,${PEOPLE}`);
    expect(first.directoryId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(second.directoryId).toBe(first.directoryId);

    // A re-add with new values replaces them, keeps objectClass and the RDN, and sets the password.
    const target = ldap.target();
    const again = person("alice", { mail: ["alice@new.example"], title: ["Boss"], userPassword: ["Secret-2"] });
    await executeOps(target, [again], plain);
    const entry = await ldap.search(`uid=alice,${PEOPLE}`);
    expect(entry?.["mail"]).toEqual(["alice@new.example"]);
    expect(entry?.["title"]).toEqual(["Boss"]);
    expect(entry?.["objectclass"]).toEqual(["inetOrgPerson"]);
    const user = new Client({ url: ldap.slapd.url });
    await user.bind(`uid=alice,${PEOPLE}`, "Secret-2");
    await user.unbind();
  });

  it("merges only into an entry that is ours by the correlation attribute", async () => {
    const opts: ExecOptions = { createIfMissing: false, correlation: { attribute: "employeeNumber" } };
    await twice([person("bob", { employeeNumber: ["scim-1"] })], opts);
    const other = person("bob", { employeeNumber: ["scim-2"], mail: ["intruder@example.com"] });
    const e = await failure(executeOps(ldap.target(), [other], opts));
    expect(e).toMatchObject({ transient: false, code: 68, opIndex: 0 });
    expect((await ldap.search(`uid=bob,${PEOPLE}`))?.["mail"]).toBeUndefined();
  });

  it("reports schema errors as permanent, with the index of the failing op", async () => {
    const ops: LdapOp[] = [person("carol"), person("carol2", { noSuchAttribute: ["x"] })];
    const e = await failure(executeOps(ldap.target(), ops, plain));
    expect(e).toMatchObject({ transient: false, code: 17, opIndex: 1, connection: false });
  });
});

describe("delete", () => {
  it("treats a missing entry as deleted", async () => {
    await executeOps(ldap.target(), [person("dave")], plain);
    await twice([{ kind: "delete", dn: `uid=dave,${PEOPLE}` }]);
    expect(await ldap.search(`uid=dave,${PEOPLE}`)).toBeUndefined();
  });
});

describe("modify", () => {
  const mod = (dn: string): LdapOp => ({ kind: "modify", dn, changes: [{ operation: "replace", attribute: "title", values: ["T"] }] });

  it("of a missing entry is permanent unless it may be recreated", async () => {
    const dn = `uid=erin,${PEOPLE}`;
    expect(await failure(executeOps(ldap.target(), [mod(dn)], plain))).toMatchObject({ transient: false, code: 32, opIndex: 0 });
    const opts: ExecOptions = { createIfMissing: true, recreate: person("erin", { title: ["T"] }) };
    const { first } = await twice([mod(dn)], opts);
    expect(first.directoryId).toBeDefined();
    expect((await ldap.search(dn))?.["title"]).toEqual(["T"]);
  });

  it("does not swallow 'value exists' outside member values", async () => {
    await executeOps(ldap.target(), [person("fay", { mail: ["fay@example.com"] })], plain);
    const op: LdapOp = { kind: "modify", dn: `uid=fay,${PEOPLE}`, changes: [{ operation: "add", attribute: "mail", values: ["fay@example.com"] }] };
    expect(await failure(executeOps(ldap.target(), [op], plain))).toMatchObject({ code: 20, transient: false });
  });
});

describe("member values", () => {
  const group = `cn=devs,${GROUPS}`;
  const member = (operation: "add" | "delete", ...uids: string[]): LdapOp => ({
    kind: "modify",
    dn: group,
    changes: [{ operation, attribute: "member", values: uids.map((u) => `uid=${u},${PEOPLE}`) }],
  });

  it("adding a present member and deleting an absent one succeed (20 and 16 on OpenLDAP)", async () => {
    await executeOps(ldap.target(), [person("m1"), person("m2"), person("m3")], plain);
    await executeOps(ldap.target(), [{ kind: "add", dn: group, attributes: { objectClass: ["groupOfNames"], cn: ["devs"], member: [`uid=m1,${PEOPLE}`] } }], plain);
    await twice([member("add", "m2")]);
    await twice([member("delete", "m1")]);
    expect((await ldap.search(group))?.["member"]).toEqual([`uid=m2,${PEOPLE}`]);
    // memberof overlay: the user side follows
    expect((await ldap.search(`uid=m2,${PEOPLE}`, ["memberOf"]))?.["memberof"]).toEqual([group]);
  });

  it("a multi-value add with one value already present adds the rest", async () => {
    await executeOps(ldap.target(), [member("add", "m2", "m3")], plain);
    expect((await ldap.search(group))?.["member"]?.sort()).toEqual([`uid=m2,${PEOPLE}`, `uid=m3,${PEOPLE}`]);
  });

  it("a member value rewritten in a new spelling (delete the old, add the new, one modify) holds on a retry and when the old value is gone", async () => {
    const respell: LdapOp = {
      kind: "modify",
      dn: group,
      changes: [
        { operation: "delete", attribute: "member", values: [`uid=M3,${PEOPLE}`] },
        { operation: "add", attribute: "member", values: [`uid=m3,${PEOPLE}`] },
      ],
    };
    await ldap.admin.modify(group, new Change({ operation: "replace", modification: new Attribute({ type: "member", values: [`uid=m2,${PEOPLE}`, `uid=M3,${PEOPLE}`] }) }));
    await twice([respell]); // the second run deletes the new spelling (distinguishedNameMatch) and adds it back
    expect((await ldap.search(group))?.["member"]?.sort()).toEqual([`uid=m2,${PEOPLE}`, `uid=m3,${PEOPLE}`]);
    // Someone removed the member meanwhile: 16 on the delete; value by value, the add still lands.
    await executeOps(ldap.target(), [member("delete", "m3")], plain);
    await executeOps(ldap.target(), [respell], plain);
    expect((await ldap.search(group))?.["member"]?.sort()).toEqual([`uid=m2,${PEOPLE}`, `uid=m3,${PEOPLE}`]);
  });
});

describe("modifyDN", () => {
  it("renames; a repeated rename finds the entry already at its new DN", async () => {
    await executeOps(ldap.target(), [person("gus")], plain);
    const { first } = await twice([{ kind: "modifyDN", dn: `uid=gus,${PEOPLE}`, newRdn: "uid=gus.renamed" }], { ...plain, readDirectoryId: true });
    expect(first.dn).toBe(`uid=gus.renamed,${PEOPLE}`);
    expect(first.directoryId).toBeDefined();
    const entry = await ldap.search(first.dn);
    expect(entry?.["uid"]).toEqual(["gus.renamed"]); // deleteOldRdn is always true in ldapts
  });

  it("moves to another OU", async () => {
    const staff = `ou=staff,${S}`;
    await executeOps(ldap.target(), [{ kind: "add", dn: staff, attributes: { objectClass: ["organizationalUnit"], ou: ["staff"] } }, person("hal")], plain);
    const { first } = await twice([{ kind: "modifyDN", dn: `uid=hal,${PEOPLE}`, newRdn: "uid=hal", newSuperior: staff }]);
    expect(first.dn).toBe(`uid=hal,${staff}`);
    expect(await ldap.search(`uid=hal,${staff}`)).toBeDefined();
    expect(await ldap.search(`uid=hal,${PEOPLE}`)).toBeUndefined();
  });

  // RFC 4514 §2.4 escapes; ldapts must not split newDN inside the RDN value (ldap-targets.md §4.4).
  const cases: Array<[string, string, string]> = [
    ["escaped comma", "cn=Doe\\, John", "Doe, John"],
    ["hex comma", "cn=Roe\\2C Jane", "Roe, Jane"],
    ["trailing escaped backslash", "cn=back\\\\", "back\\"],
    ["escaped plus and quote", "cn=a\\+b \\\"q\\\"", 'a+b "q"'],
  ];
  for (const [name, newRdn, cn] of cases) {
    it(`renames and moves with an RDN holding ${name}`, async () => {
      const from = `cn=${name.replace(/ /g, "-")},${PEOPLE}`;
      await executeOps(ldap.target(), [{ kind: "add", dn: from, attributes: { objectClass: ["inetOrgPerson"], cn: [name.replace(/ /g, "-")], sn: ["X"] } }], plain);
      const renamed = await executeOps(ldap.target(), [{ kind: "modifyDN", dn: from, newRdn }], plain);
      expect(renamed.dn).toBe(`${newRdn},${PEOPLE}`);
      expect((await ldap.search(renamed.dn))?.["cn"]).toEqual([cn]);

      const moved = await twice([{ kind: "modifyDN", dn: renamed.dn, newRdn, newSuperior: GROUPS }]);
      expect(moved.first.dn).toBe(`${newRdn},${GROUPS}`);
      expect((await ldap.search(moved.first.dn))?.["cn"]).toEqual([cn]);
      expect(await ldap.children(PEOPLE)).not.toContainEqual(expect.stringMatching(/^cn=(Doe|Roe|back|a\\)/));
    });
  }

  it("re-escapes RDNs in hex so ldapts splits newDN only at the separator", () => {
    expect(ldaptsNewDn("cn=Doe\\, John", "ou=x,dc=y")).toBe("cn=Doe\\2C John,ou=x,dc=y");
    expect(ldaptsNewDn("cn=back\\\\", "ou=x")).toBe("cn=back\\5C,ou=x");
    expect(ldaptsNewDn("cn=\\C3\\A9t\\C3\\A9")).toBe("cn=\\C3\\A9t\\C3\\A9");
    expect(ldaptsNewDn("cn=caf\\é")).toBe("cn=caf\\C3\\A9");
    expect(() => ldaptsNewDn("cn=a,ou=b")).toThrow(LdapDeliveryError);
    expect(() => ldaptsNewDn("cn=a\\")).toThrow(LdapDeliveryError);
  });
});

describe("setBits", () => {
  it("sets and clears bits on an INTEGER attribute, keeping the others, idempotently", async () => {
    const dn = `uid=ivy,${PEOPLE}`;
    await executeOps(
      ldap.target(),
      [
        {
          kind: "add",
          dn,
          attributes: {
            objectClass: ["inetOrgPerson", "posixAccount"],
            uid: ["ivy"], cn: ["Ivy"], sn: ["I"], uidNumber: ["66048"], gidNumber: ["1"], homeDirectory: ["/home/ivy"],
          },
        },
      ],
      plain,
    );
    const uid = async () => (await ldap.search(dn, ["uidNumber"]))?.["uidnumber"];
    await twice([{ kind: "setBits", dn, attribute: "uidNumber", set: 0x2, clear: 0 }]);
    expect(await uid()).toEqual(["66050"]); // DONT_EXPIRE_PASSWORD kept, ACCOUNTDISABLE set
    await twice([{ kind: "setBits", dn, attribute: "uidNumber", set: 0, clear: 0x2 }]);
    expect(await uid()).toEqual(["66048"]);
    // bit 31 as AD writes groupType: signed 32-bit
    await executeOps(ldap.target(), [{ kind: "setBits", dn, attribute: "uidNumber", set: 0x80000000, clear: 0x10200 }], plain);
    expect(await uid()).toEqual(["-2147483648"]);
  });

  it("of a missing entry is permanent without a recreate", async () => {
    const op: LdapOp = { kind: "setBits", dn: `uid=nobody,${PEOPLE}`, attribute: "uidNumber", set: 2, clear: 0 };
    expect(await failure(executeOps(ldap.target(), [op], plain))).toMatchObject({ code: 32, transient: false });
  });
});

describe("readEntry and errors", () => {
  it("normalises keys and values, and returns undefined for a missing entry", async () => {
    const target = ldap.target();
    await executeOps(target, [person("jan", { mail: ["j1@example.com", "j2@example.com"] })], plain);
    const e = await readEntry(target, `uid=jan,${PEOPLE}`, ["MAIL", "sn", "entryUUID", "description"]);
    expect(e?.["mail"]).toEqual(["j1@example.com", "j2@example.com"]);
    expect(e?.["sn"]).toEqual(["Test"]); // one value: an array, not a scalar
    expect(e?.["description"]).toEqual([]);
    expect(await readEntry(target, `uid=ghost,${PEOPLE}`, ["cn"])).toBeUndefined();
  });

  it("formats objectGUID bytes as AD does (MS-DTYP 2.3.4 byte order)", () => {
    const bytes = Buffer.from("00112233445566778899aabbccddeeff", "hex");
    expect(guidString(bytes)).toBe("33221100-5544-7766-8899-aabbccddeeff");
  });

  it("reports an unreachable target as a transient connection failure", async () => {
    const target = new LdapTarget({ name: "down", urls: [`ldap://127.0.0.1:${await freePort()}`], bindDn: "cn=x", bindPassword: "x", connectTimeoutMs: 500 });
    const e = await failure(executeOps(target, [person("kim")], plain));
    expect(e).toMatchObject({ transient: true, connection: true, opIndex: 0 });
    await target.close();
  });
});
