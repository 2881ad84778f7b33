// The planner is pure: rule + mapped entries + last written state -> LDAP ops (issue 4).
import { describe, expect, it } from "vitest";
import { userRuleSchema, type PresetName, type UserRuleInput } from "../../hooks/rules/config.js";
import type { CompiledRule, MappedEntry } from "../../hooks/rules/mapping.js";
import type { LdapOp } from "../../hooks/planning/ops.js";
import { planUser, type PlanInput, type WrittenEntry } from "../../hooks/planning/planner.js";
import { PRESETS, unicodePwd } from "../../hooks/rules/presets.js";
import { SchemaRegistry } from "../../schemas/registry.js";

const registry = new SchemaRegistry();

/** A compiled rule as compileRule would give it; the planner reads only name, target, preset, objectClasses, actions. */
function rule(preset: PresetName, actions: UserRuleInput["actions"] = undefined): CompiledRule {
  const config = userRuleSchema.parse({ name: "staff", target: "dir", preset, dn: "uid={userName},ou=people,dc=example,dc=com", actions });
  return {
    name: config.name,
    target: config.target,
    preset: PRESETS[preset],
    config,
    registry,
    dn: [],
    objectClasses: [...PRESETS[preset].objectClasses],
    mappings: [],
    singleValued: new Set(),
    actions: config.actions,
  };
}

const PEOPLE = "ou=people,dc=example,dc=com";
const USERS = "OU=Users,DC=example,DC=com";

const ol = (over: Partial<MappedEntry> = {}, attrs: Record<string, string[]> = {}): MappedEntry => ({
  dn: `uid=jdoe,${PEOPLE}`,
  active: true,
  ...over,
  attributes: { uid: ["jdoe"], cn: ["jdoe"], sn: ["Doe"], givenName: ["John"], mail: ["john@example.com"], title: [], ...attrs },
});

const ad = (over: Partial<MappedEntry> = {}, attrs: Record<string, string[]> = {}): MappedEntry => ({
  dn: `CN=jdoe,${USERS}`,
  active: true,
  ...over,
  attributes: { cn: ["jdoe"], sAMAccountName: ["jdoe"], sn: ["Doe"], givenName: ["John"], mail: ["john@example.com"], ...attrs },
});

const written = (e: MappedEntry, extra: Partial<WrittenEntry> = {}): WrittenEntry => ({ dn: e.dn, attributes: e.attributes, active: e.active, ...extra });

const replace = (dn: string, attribute: string, values: (string | Buffer)[]): LdapOp => ({ kind: "modify", dn, changes: [{ operation: "replace", attribute, values }] });

const OL_DN = `uid=jdoe,${PEOPLE}`;
const AD_DN = `CN=jdoe,${USERS}`;
const INET = ["top", "person", "organizationalPerson", "inetOrgPerson"];
const AD_OC = ["top", "person", "organizationalPerson", "user"];
const olAdd = (extra: Record<string, (string | Buffer)[]> = {}): LdapOp => ({
  kind: "add",
  dn: OL_DN,
  attributes: { objectClass: INET, uid: ["jdoe"], cn: ["jdoe"], sn: ["Doe"], givenName: ["John"], mail: ["john@example.com"], ...extra },
});

interface Case {
  name: string;
  preset: PresetName;
  actions?: UserRuleInput["actions"];
  input: Omit<PlanInput, "rule" | "targetSecure"> & { targetSecure?: boolean };
  ops?: LdapOp[];
  error?: RegExp;
  /** Expected parts of `written` (null = entry gone). */
  written?: Partial<WrittenEntry> | null;
  dn?: string;
}

const cases: Case[] = [
  // --- create ------------------------------------------------------------------------------------
  { name: "create: add with objectClass and non-empty attributes only", preset: "openldap", input: { event: "upsert", after: ol() }, ops: [olAdd()], written: { dn: OL_DN, active: true, passwordSet: false }, dn: OL_DN },
  { name: "create with password (openldap: cleartext userPassword, server hashes)", preset: "openldap", input: { event: "upsert", after: ol(), password: "Secr3t!" }, ops: [olAdd({ userPassword: ["Secr3t!"] })], written: { passwordSet: true } },
  { name: "create inactive (openldap: add, then ppolicy lock)", preset: "openldap", input: { event: "upsert", after: ol({ active: false }) }, ops: [olAdd(), replace(OL_DN, "pwdAccountLockedTime", ["000001010000Z"])], written: { active: false } },
  { name: "create inactive (pingdirectory: ds-pwp-account-disabled)", preset: "pingdirectory", input: { event: "upsert", after: ol({ active: false }) }, ops: [olAdd(), replace(OL_DN, "ds-pwp-account-disabled", ["TRUE"])], written: { active: false } },
  { name: "create inactive with disable off: created enabled", preset: "openldap", actions: { disable: false }, input: { event: "upsert", after: ol({ active: false }) }, ops: [olAdd()], written: { active: true } },
  { name: "create with password and must-change (openldap: pwdReset after the add)", preset: "openldap", actions: { mustChangePassword: true }, input: { event: "upsert", after: ol(), password: "pw" }, ops: [olAdd({ userPassword: ["pw"] }), replace(OL_DN, "pwdReset", ["TRUE"])] },
  {
    name: "create AD with password: one add, unicodePwd + uAC 512",
    preset: "active-directory",
    input: { event: "upsert", after: ad(), password: "Secr3t!", targetSecure: true },
    ops: [{ kind: "add", dn: AD_DN, attributes: { objectClass: AD_OC, cn: ["jdoe"], sAMAccountName: ["jdoe"], sn: ["Doe"], givenName: ["John"], mail: ["john@example.com"], userAccountControl: ["512"], unicodePwd: [unicodePwd("Secr3t!")] } }],
    written: { active: true, passwordSet: true },
  },
  {
    name: "create AD without password: 514, stays disabled until a password arrives",
    preset: "active-directory",
    input: { event: "upsert", after: ad(), targetSecure: true },
    ops: [{ kind: "add", dn: AD_DN, attributes: { objectClass: AD_OC, cn: ["jdoe"], sAMAccountName: ["jdoe"], sn: ["Doe"], givenName: ["John"], mail: ["john@example.com"], userAccountControl: ["514"] } }],
    written: { active: false, passwordSet: false },
  },
  {
    name: "create AD with password, must-change: pwdLastSet=0 after the add",
    preset: "active-directory",
    actions: { mustChangePassword: true },
    input: { event: "upsert", after: ad(), password: "pw", targetSecure: true },
    ops: [
      { kind: "add", dn: AD_DN, attributes: { objectClass: AD_OC, cn: ["jdoe"], sAMAccountName: ["jdoe"], sn: ["Doe"], givenName: ["John"], mail: ["john@example.com"], userAccountControl: ["512"], unicodePwd: [unicodePwd("pw")] } },
      replace(AD_DN, "pwdLastSet", ["0"]),
    ],
  },
  { name: "create AD with password over plain LDAP: refused", preset: "active-directory", input: { event: "upsert", after: ad(), password: "pw", targetSecure: false }, error: /encrypted connection.*plain ldap/ },
  { name: "create AD without password over plain LDAP: allowed", preset: "active-directory", input: { event: "upsert", after: ad(), targetSecure: false }, written: { active: false } },
  { name: "create AD with password, password action off: no password, 514", preset: "active-directory", actions: { password: false }, input: { event: "upsert", after: ad(), password: "pw", targetSecure: false }, written: { active: false, passwordSet: false } },
  { name: "sAMAccountName over 20 characters: error", preset: "active-directory", input: { event: "upsert", after: ad({}, { sAMAccountName: ["a-very-long-login-name"] }), targetSecure: true }, error: /sAMAccountName "a-very-long-login-name" is longer than 20/ },
  { name: "sAMAccountName with a forbidden character: error", preset: "active-directory", input: { event: "upsert", after: ad({}, { sAMAccountName: ["j[doe]"] }), targetSecure: true }, error: /forbids/ },
  { name: "sAMAccountName of exactly 20 characters: allowed", preset: "active-directory", input: { event: "upsert", after: ad({}, { sAMAccountName: ["x".repeat(20)] }), targetSecure: true }, written: { active: false } },
  ...[...'"/\\[]:;|=,+*?<>'].map((ch): Case => ({ name: `sAMAccountName with ${JSON.stringify(ch)}: error`, preset: "active-directory", input: { event: "upsert", after: ad({}, { sAMAccountName: [`j${ch}doe`] }), targetSecure: true }, error: /forbids/ })),
  { name: "sAMAccountName with a control character: error", preset: "active-directory", input: { event: "upsert", after: ad({}, { sAMAccountName: ["j\tdoe"] }), targetSecure: true }, error: /control character/ },
  { name: "sAMAccountName ending with a period: error", preset: "active-directory", input: { event: "upsert", after: ad({}, { sAMAccountName: ["jdoe."] }), targetSecure: true }, error: /ends with a period/ },
  { name: "sAMAccountName with inner periods, spaces, dashes, @: allowed", preset: "active-directory", input: { event: "upsert", after: ad({}, { sAMAccountName: ["j.doe-x_y z@"] }), targetSecure: true }, written: { active: false } },
  { name: "AD without sAMAccountName: error", preset: "active-directory", input: { event: "upsert", after: ad({}, { sAMAccountName: [] }), targetSecure: true }, error: /requires sAMAccountName/ },
  { name: "inetOrgPerson without sn: error", preset: "openldap", input: { event: "upsert", after: ol({}, { sn: [] }) }, error: /requires sn/ },
  { name: "create off: nothing", preset: "openldap", actions: { create: false }, input: { event: "upsert", after: ol() }, ops: [], written: null },
  { name: "upsert without after: error", preset: "openldap", input: { event: "upsert" }, error: /needs the mapped entry/ },

  // --- update ------------------------------------------------------------------------------------
  { name: "no-op update: no ops", preset: "openldap", input: { event: "upsert", after: ol(), lastWritten: written(ol()) }, ops: [], written: { dn: OL_DN }, dn: OL_DN },
  { name: "one attribute changed: modify with only that attribute", preset: "openldap", input: { event: "upsert", after: ol({}, { givenName: ["Johnny"] }), lastWritten: written(ol()) }, ops: [replace(OL_DN, "givenName", ["Johnny"])], written: { attributes: ol({}, { givenName: ["Johnny"] }).attributes } },
  { name: "attribute cleared: replace []", preset: "openldap", input: { event: "upsert", after: ol({}, { mail: [] }), lastWritten: written(ol()) }, ops: [replace(OL_DN, "mail", [])] },
  { name: "attribute set from empty", preset: "openldap", input: { event: "upsert", after: ol({}, { title: ["CEO"] }), lastWritten: written(ol()) }, ops: [replace(OL_DN, "title", ["CEO"])] },
  { name: "value case change is a change (case-sensitive values)", preset: "openldap", input: { event: "upsert", after: ol({}, { givenName: ["JOHN"] }), lastWritten: written(ol()) }, ops: [replace(OL_DN, "givenName", ["JOHN"])] },
  { name: "attribute names compare case-insensitively", preset: "openldap", input: { event: "upsert", after: ol(), lastWritten: written(ol(), { attributes: { UID: ["jdoe"], CN: ["jdoe"], SN: ["Doe"], givenname: ["John"], MAIL: ["john@example.com"] } }) }, ops: [] },
  { name: "multi-valued: value added -> replace with the full list", preset: "openldap", input: { event: "upsert", after: ol({}, { mail: ["john@example.com", "jd@example.com"] }), lastWritten: written(ol()) }, ops: [replace(OL_DN, "mail", ["john@example.com", "jd@example.com"])] },
  { name: "multi-valued: reordered only -> no op (LDAP values are a set)", preset: "openldap", input: { event: "upsert", after: ol({}, { mail: ["b@x", "a@x"] }), lastWritten: written(ol({}, { mail: ["a@x", "b@x"] })) }, ops: [] },
  { name: "multi-valued: one removed", preset: "openldap", input: { event: "upsert", after: ol({}, { mail: ["a@x"] }), lastWritten: written(ol({}, { mail: ["a@x", "b@x"] })) }, ops: [replace(OL_DN, "mail", ["a@x"])] },
  { name: "attribute no longer mapped is left alone", preset: "openldap", input: { event: "upsert", after: ol(), lastWritten: written(ol({}, { description: ["old"] })) }, ops: [] },
  { name: "update off: attribute changes ignored", preset: "openldap", actions: { update: false }, input: { event: "upsert", after: ol({}, { givenName: ["X"] }), lastWritten: written(ol()) }, ops: [], written: { attributes: ol().attributes } },

  // --- rename and move ---------------------------------------------------------------------------
  {
    name: "rename: modifyDN, uid not also modified",
    preset: "openldap",
    input: { event: "upsert", after: ol({ dn: `uid=john.doe,${PEOPLE}` }, { uid: ["john.doe"] }), lastWritten: written(ol()) },
    ops: [{ kind: "modifyDN", dn: OL_DN, newRdn: "uid=john.doe" }],
    written: { dn: `uid=john.doe,${PEOPLE}` },
    dn: `uid=john.doe,${PEOPLE}`,
  },
  {
    name: "rename + attribute change: modifyDN first, then modify on the new DN",
    preset: "openldap",
    input: { event: "upsert", after: ol({ dn: `uid=john.doe,${PEOPLE}` }, { uid: ["john.doe"], cn: ["john.doe"], sn: ["Smith"] }), lastWritten: written(ol()) },
    ops: [{ kind: "modifyDN", dn: OL_DN, newRdn: "uid=john.doe" }, { kind: "modify", dn: `uid=john.doe,${PEOPLE}`, changes: [{ operation: "replace", attribute: "cn", values: ["john.doe"] }, { operation: "replace", attribute: "sn", values: ["Smith"] }] }],
  },
  {
    name: "move: modifyDN with newSuperior",
    preset: "openldap",
    input: { event: "upsert", after: ol({ dn: "uid=jdoe,ou=sales,dc=example,dc=com" }), lastWritten: written(ol()) },
    ops: [{ kind: "modifyDN", dn: OL_DN, newRdn: "uid=jdoe", newSuperior: "ou=sales,dc=example,dc=com" }],
    dn: "uid=jdoe,ou=sales,dc=example,dc=com",
  },
  {
    name: "rename with an escaped value",
    preset: "active-directory",
    input: { event: "upsert", after: ad({ dn: `CN=Doe\\, John,${USERS}` }, { cn: ["Doe, John"] }), lastWritten: written(ad()), targetSecure: true },
    ops: [{ kind: "modifyDN", dn: AD_DN, newRdn: "CN=Doe\\, John" }],
  },
  {
    name: "server's DN spelling differs but names the same entry: no modifyDN",
    preset: "openldap",
    input: { event: "upsert", after: ol({ dn: `cn=Smith\\, John,${PEOPLE}` }, { cn: ["Smith, John"] }), lastWritten: written(ol({ dn: "CN=Smith\\2C John,OU=People,DC=example,DC=com" }, { cn: ["Smith, John"] })) },
    ops: [],
    written: { dn: "CN=Smith\\2C John,OU=People,DC=example,DC=com" },
  },
  // Case-only renames: the same entry (sameDn), a new spelling the directory must show (ldap-targets.md §7).
  {
    name: "case-only change of the naming value (AD): modifyDN to the new case, no modify of the RDN attribute (AD 67)",
    preset: "active-directory",
    input: { event: "upsert", after: ad({ dn: `CN=JDoe,${USERS}` }, { cn: ["JDoe"] }), lastWritten: written(ad()), targetSecure: true },
    ops: [{ kind: "modifyDN", dn: AD_DN, newRdn: "CN=JDoe" }],
    written: { dn: `CN=JDoe,${USERS}`, attributes: ad({}, { cn: ["JDoe"] }).attributes },
    dn: `CN=JDoe,${USERS}`,
  },
  {
    name: "case-only change of the naming value (AD), with sAMAccountName: modifyDN, then the ordinary attribute",
    preset: "active-directory",
    input: { event: "upsert", after: ad({ dn: `CN=JDoe,${USERS}` }, { cn: ["JDoe"], sAMAccountName: ["JDoe"] }), lastWritten: written(ad()), targetSecure: true },
    ops: [{ kind: "modifyDN", dn: AD_DN, newRdn: "CN=JDoe" }, replace(`CN=JDoe,${USERS}`, "sAMAccountName", ["JDoe"])],
  },
  ...(["openldap", "pingdirectory"] as const).map(
    (preset): Case => ({
      name: `case-only change of uid (${preset}): modifyDN rewrites uid, cn is an ordinary replace`,
      preset,
      input: { event: "upsert", after: ol({ dn: `uid=JDoe,${PEOPLE}` }, { uid: ["JDoe"], cn: ["JDoe"] }), lastWritten: written(ol()) },
      ops: [{ kind: "modifyDN", dn: OL_DN, newRdn: "uid=JDoe" }, replace(`uid=JDoe,${PEOPLE}`, "cn", ["JDoe"])],
      written: { dn: `uid=JDoe,${PEOPLE}` },
      dn: `uid=JDoe,${PEOPLE}`,
    }),
  ),
  {
    name: "case-only rename and a move: one modifyDN with newSuperior",
    preset: "openldap",
    input: { event: "upsert", after: ol({ dn: "uid=JDoe,ou=sales,dc=example,dc=com" }, { uid: ["JDoe"] }), lastWritten: written(ol()) },
    ops: [{ kind: "modifyDN", dn: OL_DN, newRdn: "uid=JDoe", newSuperior: "ou=sales,dc=example,dc=com" }],
  },
  {
    name: "only the parent's case differs: no modifyDN (the parent is another entry, spelled its own way)",
    preset: "openldap",
    input: { event: "upsert", after: ol({ dn: "uid=jdoe,OU=People,DC=Example,DC=com" }), lastWritten: written(ol()) },
    ops: [],
    written: { dn: OL_DN },
  },
  {
    name: "the stored DN already has the new case (a retry after the rename landed): nothing to send",
    preset: "openldap",
    input: { event: "upsert", after: ol({ dn: `uid=JDoe,${PEOPLE}` }, { uid: ["JDoe"], cn: ["JDoe"] }), lastWritten: written(ol({ dn: `UID=JDoe,${PEOPLE}` }, { uid: ["JDoe"], cn: ["JDoe"] })) },
    ops: [],
  },
  {
    name: "case-only rename with update off: stays put",
    preset: "openldap",
    actions: { update: false },
    input: { event: "upsert", after: ol({ dn: `uid=JDoe,${PEOPLE}` }, { uid: ["JDoe"] }), lastWritten: written(ol()) },
    ops: [],
    dn: OL_DN,
  },
  { name: "rename with update off: stays put", preset: "openldap", actions: { update: false }, input: { event: "upsert", after: ol({ dn: `uid=x,${PEOPLE}` }, { uid: ["x"] }), lastWritten: written(ol()) }, ops: [], dn: OL_DN },

  // --- disable / enable --------------------------------------------------------------------------
  { name: "disable openldap: pwdAccountLockedTime", preset: "openldap", input: { event: "upsert", after: ol({ active: false }), lastWritten: written(ol()) }, ops: [replace(OL_DN, "pwdAccountLockedTime", ["000001010000Z"])], written: { active: false } },
  { name: "enable openldap: remove pwdAccountLockedTime", preset: "openldap", input: { event: "upsert", after: ol(), lastWritten: written(ol({ active: false })) }, ops: [replace(OL_DN, "pwdAccountLockedTime", [])], written: { active: true } },
  { name: "disable pingdirectory", preset: "pingdirectory", input: { event: "upsert", after: ol({ active: false }), lastWritten: written(ol()) }, ops: [replace(OL_DN, "ds-pwp-account-disabled", ["TRUE"])] },
  { name: "enable pingdirectory", preset: "pingdirectory", input: { event: "upsert", after: ol(), lastWritten: written(ol({ active: false })) }, ops: [replace(OL_DN, "ds-pwp-account-disabled", [])] },
  { name: "disable AD: setBits 0x2, other bits kept", preset: "active-directory", input: { event: "upsert", after: ad({ active: false }), lastWritten: written(ad()), targetSecure: true }, ops: [{ kind: "setBits", dn: AD_DN, attribute: "userAccountControl", set: 2, clear: 0 }] },
  { name: "enable AD: clear 0x2", preset: "active-directory", input: { event: "upsert", after: ad(), lastWritten: written(ad({ active: false })), targetSecure: true }, ops: [{ kind: "setBits", dn: AD_DN, attribute: "userAccountControl", set: 0, clear: 2 }] },
  { name: "enable AD never given a password: waits", preset: "active-directory", input: { event: "upsert", after: ad(), lastWritten: written(ad({ active: false }), { passwordSet: false }), targetSecure: true }, ops: [], written: { active: false } },
  {
    name: "AD password arrives for a disabled entry: password, then enable",
    preset: "active-directory",
    input: { event: "upsert", after: ad(), lastWritten: written(ad({ active: false }), { passwordSet: false }), password: "pw", targetSecure: true },
    ops: [replace(AD_DN, "unicodePwd", [unicodePwd("pw")]), { kind: "setBits", dn: AD_DN, attribute: "userAccountControl", set: 0, clear: 2 }],
    written: { active: true, passwordSet: true },
  },
  { name: "still inactive: nothing", preset: "openldap", input: { event: "upsert", after: ol({ active: false }), lastWritten: written(ol({ active: false })) }, ops: [] },
  { name: "previous state from before when lastWritten lacks it", preset: "openldap", input: { event: "upsert", before: ol({ active: false }), after: ol(), lastWritten: { dn: OL_DN, attributes: ol().attributes } }, ops: [replace(OL_DN, "pwdAccountLockedTime", [])] },
  { name: "disable action off", preset: "openldap", actions: { disable: false }, input: { event: "upsert", after: ol({ active: false }), lastWritten: written(ol()) }, ops: [], written: { active: true } },
  { name: "enable action off", preset: "openldap", actions: { enable: false }, input: { event: "upsert", after: ol(), lastWritten: written(ol({ active: false })) }, ops: [], written: { active: false } },
  {
    name: "disable + attribute change: modify then disable",
    preset: "openldap",
    input: { event: "upsert", after: ol({ active: false }, { title: ["ex-CEO"] }), lastWritten: written(ol()) },
    ops: [replace(OL_DN, "title", ["ex-CEO"]), replace(OL_DN, "pwdAccountLockedTime", ["000001010000Z"])],
  },

  // --- passwords on update -----------------------------------------------------------------------
  { name: "password openldap: replace userPassword", preset: "openldap", input: { event: "upsert", after: ol(), lastWritten: written(ol()), password: "n3w" }, ops: [replace(OL_DN, "userPassword", ["n3w"])], written: { passwordSet: true } },
  { name: "password pingdirectory + must-change: userPassword then pwdReset", preset: "pingdirectory", actions: { mustChangePassword: true }, input: { event: "upsert", after: ol(), lastWritten: written(ol()), password: "n3w" }, ops: [replace(OL_DN, "userPassword", ["n3w"]), replace(OL_DN, "pwdReset", ["TRUE"])] },
  { name: "password AD + must-change: unicodePwd then pwdLastSet=0", preset: "active-directory", actions: { mustChangePassword: true }, input: { event: "upsert", after: ad(), lastWritten: written(ad()), password: "n3w", targetSecure: true }, ops: [replace(AD_DN, "unicodePwd", [unicodePwd("n3w")]), replace(AD_DN, "pwdLastSet", ["0"])] },
  { name: "password AD over plain LDAP: refused", preset: "active-directory", input: { event: "upsert", after: ad(), lastWritten: written(ad()), password: "n3w", targetSecure: false }, error: /encrypted connection/ },
  { name: "password action off: ignored", preset: "active-directory", actions: { password: false }, input: { event: "upsert", after: ad(), lastWritten: written(ad()), password: "n3w", targetSecure: false }, ops: [] },
  { name: "password after a rename goes to the new DN", preset: "openldap", input: { event: "upsert", after: ol({ dn: `uid=x,${PEOPLE}` }, { uid: ["x"] }), lastWritten: written(ol()), password: "pw" }, ops: [{ kind: "modifyDN", dn: OL_DN, newRdn: "uid=x" }, replace(`uid=x,${PEOPLE}`, "userPassword", ["pw"])] },

  // --- deprovision -------------------------------------------------------------------------------
  { name: "delete, Remove Action delete (default)", preset: "openldap", input: { event: "delete", lastWritten: written(ol()) }, ops: [{ kind: "delete", dn: OL_DN }], written: null },
  { name: "delete, Remove Action disable", preset: "openldap", actions: { deprovision: { onDelete: "disable" } }, input: { event: "delete", lastWritten: written(ol()) }, ops: [replace(OL_DN, "pwdAccountLockedTime", ["000001010000Z"])], written: { active: false }, dn: OL_DN },
  { name: "delete, Remove Action disable on AD", preset: "active-directory", actions: { deprovision: { onDelete: "disable" } }, input: { event: "delete", lastWritten: written(ad()), targetSecure: true }, ops: [{ kind: "setBits", dn: AD_DN, attribute: "userAccountControl", set: 2, clear: 0 }] },
  { name: "delete, Remove Action disable, already disabled", preset: "openldap", actions: { deprovision: { onDelete: "disable" } }, input: { event: "delete", lastWritten: written(ol({ active: false })) }, ops: [] },
  { name: "delete, Remove Action none", preset: "openldap", actions: { deprovision: { onDelete: "none" } }, input: { event: "delete", lastWritten: written(ol()) }, ops: [], written: { dn: OL_DN } },
  { name: "delete of a user never written", preset: "openldap", input: { event: "delete" }, ops: [], written: null },
  { name: "leftFilter: disable by default", preset: "pingdirectory", input: { event: "leftFilter", after: ol(), lastWritten: written(ol()) }, ops: [replace(OL_DN, "ds-pwp-account-disabled", ["TRUE"])], written: { active: false } },
  { name: "leftFilter: delete when configured", preset: "openldap", actions: { deprovision: { onLeaveFilter: "delete" } }, input: { event: "leftFilter", lastWritten: written(ol()) }, ops: [{ kind: "delete", dn: OL_DN }], written: null },
  { name: "re-entering the filter after a disable: enable", preset: "openldap", input: { event: "upsert", after: ol(), lastWritten: written(ol(), { active: false }) }, ops: [replace(OL_DN, "pwdAccountLockedTime", [])] },
  { name: "ruleRemoved: none by default (PingOne's opt-in)", preset: "openldap", input: { event: "ruleRemoved", lastWritten: written(ol()) }, ops: [], written: { dn: OL_DN } },
  { name: "ruleRemoved: delete when configured", preset: "openldap", actions: { deprovision: { onRuleRemoved: "delete" } }, input: { event: "ruleRemoved", lastWritten: written(ol()) }, ops: [{ kind: "delete", dn: OL_DN }], written: null },
  { name: "ruleRemoved: disable when configured", preset: "active-directory", actions: { deprovision: { onRuleRemoved: "disable" } }, input: { event: "ruleRemoved", lastWritten: written(ad()) }, ops: [{ kind: "setBits", dn: AD_DN, attribute: "userAccountControl", set: 2, clear: 0 }] },
];

describe("planUser", () => {
  it.each(cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const result = planUser({ ...c.input, rule: rule(c.preset, c.actions), targetSecure: c.input.targetSecure ?? false });
    if (c.error) {
      expect(result).toEqual({ error: expect.stringMatching(c.error) });
      return;
    }
    if ("error" in result) throw new Error(`unexpected planning error: ${result.error}`);
    if (c.ops) expect(result.ops).toEqual(c.ops);
    if (c.written === null) expect(result.written).toBeNull();
    else if (c.written) expect(result.written).toMatchObject(c.written);
    if (c.dn) expect(result.dn).toBe(c.dn);
  });

  it("does not share arrays with its input", () => {
    const after = ol();
    const result = planUser({ rule: rule("openldap"), event: "upsert", after, targetSecure: false });
    if ("error" in result) throw new Error(result.error);
    after.attributes.mail?.push("mutated@x");
    expect(result.written?.attributes.mail).toEqual(["john@example.com"]);
    expect(result.ops[0]).toMatchObject({ attributes: { mail: ["john@example.com"] } });
  });

  it("turns an unparsable stored DN into an error, not a throw", () => {
    const result = planUser({ rule: rule("openldap"), event: "upsert", after: ol({ dn: `uid=x,${PEOPLE}` }), lastWritten: { dn: "garbage", attributes: {} }, targetSecure: false });
    expect(result).toEqual({ error: expect.stringMatching(/invalid DN/) });
  });
});
