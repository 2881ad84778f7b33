// Group rule config (issue 5): defaults, strictness, and errors that name the offending key.
import { describe, expect, it } from "vitest";
import { checkGroupFilter, defaultPlaceholderDn, groupRuleSchema, groupRulesSchema, refineGroupRules, type GroupRuleConfig } from "../../hooks/rules/group-config.js";

const base = { name: "staff-groups", target: "ldap", dn: "cn={displayName},ou=groups,dc=example,dc=com" };

function issues(result: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }): string[] {
  return result.success ? [] : (result.error?.issues ?? []).map((i) => `${i.path.map(String).join(".")}: ${i.message}`);
}

describe("groupRuleSchema", () => {
  it("fills the documented defaults", () => {
    const r = groupRuleSchema.parse(base);
    expect(r.emptyGroups).toBe("placeholder");
    expect(r.objectClass).toBeUndefined();
    expect(r.placeholderDn).toBeUndefined();
    expect(r.attributes).toEqual({});
    expect(r.actions).toEqual({
      create: true,
      rename: true,
      update: true,
      delete: true,
      members: true,
      deprovision: { onDelete: "delete", onLeaveFilter: "delete", onRuleRemoved: "none" },
    });
  });

  it("accepts every documented option", () => {
    const r = groupRuleSchema.parse({
      ...base,
      preset: "openldap",
      filter: 'displayName sw "eng-" and members[value eq "u1"]',
      objectClass: "groupOfUniqueNames",
      attributes: { description: { expr: "'SCIM ' & displayName" }, businessCategory: { value: "scim" }, cn: null, ou: "externalId" },
      emptyGroups: "skip",
      placeholderDn: "cn=empty,dc=example,dc=com",
      actions: { members: false, deprovision: { onLeaveFilter: "none" } },
    });
    expect(r.actions).toMatchObject({ create: true, members: false, deprovision: { onDelete: "delete", onLeaveFilter: "none", onRuleRemoved: "none" } });
    const ad = groupRuleSchema.parse({ ...base, preset: "active-directory", groupType: { scope: "universal" } });
    expect(ad.groupType).toEqual({ scope: "universal", security: true });
  });

  it.each([
    ["a typo'd key", { emptyGroup: "skip" }, ""],
    ["a typo'd action", { actions: { renmae: false } }, "actions"],
    ["a typo'd deprovision key", { actions: { deprovision: { onDelet: "none" } } }, "actions.deprovision"],
    ["disable as a group deprovision action", { actions: { deprovision: { onDelete: "disable" } } }, "actions.deprovision.onDelete"],
    ["an unknown object class", { objectClass: "posixGroup" }, "objectClass"],
    ["an unknown scope", { groupType: { scope: "local" } }, "groupType.scope"],
    ["a typo'd groupType key", { groupType: { scope: "global", securty: true } }, "groupType"],
    ["an unknown emptyGroups", { emptyGroups: "delete" }, "emptyGroups"],
    ["a constant DN", { dn: "cn=all,ou=groups,dc=example,dc=com" }, "dn"],
    ["a DN template without base", { dn: "cn={displayName}" }, "dn"],
    ["a broken filter", { filter: "displayName eq" }, "filter"],
    ["a filter on a user attribute", { filter: 'userName eq "x"' }, "filter"],
    ["a filter on an unknown member sub-attribute", { filter: 'members.foo eq "x"' }, "filter"],
    ["a bad placeholder DN", { placeholderDn: "nobody" }, "placeholderDn"],
    ["mapping member", { attributes: { member: "members.value" } }, "attributes.member"],
    ["mapping uniqueMember", { attributes: { UniqueMember: "members.value" } }, "attributes.UniqueMember"],
    ["mapping groupType", { attributes: { groupType: { value: "2" } } }, "attributes.groupType"],
    ["mapping objectClass", { attributes: { objectClass: { value: "x" } } }, "attributes.objectClass"],
    ["a bad attribute name", { attributes: { "bad name": "displayName" } }, "attributes.bad name"],
    ["a case-duplicate attribute", { attributes: { description: "displayName", Description: "externalId" } }, "attributes.Description"],
    ["a broken JSONata", { attributes: { description: { expr: "(" } } }, "attributes.description.expr"],
    ["objectClass with the AD preset", { preset: "active-directory", objectClass: "groupOfNames" }, "objectClass"],
    ["groupType with the OpenLDAP preset", { preset: "openldap", groupType: { scope: "global" } }, "groupType"],
  ])("rejects %s, naming the key", (_what, patch, path) => {
    const found = issues(groupRuleSchema.safeParse({ ...base, ...patch }));
    expect(found.length).toBeGreaterThan(0);
    if (path === "") expect(found.join("\n")).toContain("emptyGroup");
    else expect(found.some((l) => l.startsWith(`${path}:`)), found.join("\n")).toBe(true);
  });

  it("groupRulesSchema defaults to no rules", () => {
    expect(groupRulesSchema.parse(undefined)).toEqual([]);
  });
});

describe("checkGroupFilter", () => {
  it.each([
    'displayName eq "Engineering"',
    'externalId pr and displayName co "eng"',
    'members[value eq "2819c223"]',
    'members.display eq "Babs Jensen"',
    'urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "x"',
    'not (DISPLAYNAME eq "x")',
  ])("accepts %s", (f) => expect(checkGroupFilter(f)).toBeUndefined());

  it.each(['userName eq "x"', 'members[foo eq "x"]', 'meta.created gt "2020"'])("rejects %s", (f) => {
    expect(checkGroupFilter(f)).toMatch(/displayName, externalId, members/);
  });

  it("reports parser errors", () => expect(checkGroupFilter('members.value.x eq "x"')).toMatch(/^invalid SCIM filter/));
});

describe("defaultPlaceholderDn", () => {
  it.each([
    ["cn={displayName},ou=groups,dc=example,dc=com", "cn=nobody,dc=example,dc=com"],
    ["CN={displayName},OU=Groups,OU=SCIM,DC=corp,DC=example,DC=com", "cn=nobody,DC=corp,DC=example,DC=com"],
    ["cn={displayName},ou=groups,o=Example", "cn=nobody,ou=groups,o=Example"],
  ])("%s -> %s", (template, dn) => expect(defaultPlaceholderDn(template)).toBe(dn));
});

describe("refineGroupRules", () => {
  const targets = [
    { name: "ad", directory: "active-directory" as const },
    { name: "ldap", directory: "openldap" as const },
  ];
  const run = (groupRules: GroupRuleConfig[]) => {
    const found: string[] = [];
    refineGroupRules({ targets, groupRules }, { addIssue: (i) => found.push(`${i.path.join(".")}: ${i.message}`) });
    return found;
  };
  const parse = (r: object) => groupRuleSchema.parse({ ...base, ...r });

  it("passes a consistent config", () => {
    expect(run([parse({ target: "ad", groupType: { scope: "domainLocal" } }), parse({ name: "b", target: "ldap", objectClass: "groupOfNames" })])).toEqual([]);
  });

  it.each([
    ["an unknown target", [parse({ target: "nope" })], "groupRules.0.target: no target named nope (targets: ad, ldap)"],
    ["duplicate names", [parse({}), parse({})], "groupRules.1.name: duplicate group rule name staff-groups"],
    ["objectClass on an AD target", [parse({ target: "ad", objectClass: "groupOfNames" })], "groupRules.0.objectClass: target ad is Active Directory: groups are always objectClass group"],
    ["groupType on an OpenLDAP target", [parse({ target: "ldap", groupType: { scope: "global" } })], "groupRules.0.groupType: groupType is Active Directory only; target ldap is openldap"],
  ])("reports %s", (_what, rules, message) => {
    expect(run(rules)).toContain(message);
  });
});
