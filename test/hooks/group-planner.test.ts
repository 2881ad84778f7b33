// The group planner is pure: rule + mapped group + last written state + member DN deltas -> LDAP ops (issue 5).
import { describe, expect, it } from "vitest";
import type { PresetName } from "../../hooks/rules/config.js";
import { groupRuleSchema, type GroupRuleInput } from "../../hooks/rules/group-config.js";
import { compileGroupRule, planGroup, SINGLE_VALUE_MEMBER_OPS, type GroupEntry, type GroupPlanInput, type WrittenGroup } from "../../hooks/planning/group-planner.js";
import { adGroupType, checkGroupSamAccountName, getGroupPreset } from "../../hooks/rules/group-presets.js";
import type { LdapOp } from "../../hooks/planning/ops.js";

const GROUPS = "ou=groups,dc=example,dc=com";
const PLACEHOLDER = "cn=nobody,dc=example,dc=com";
const u = (n: number | string) => `uid=user${n},ou=people,dc=example,dc=com`;

function rule(preset: PresetName, over: Partial<GroupRuleInput> = {}) {
  const dn = preset === "active-directory" ? "CN={displayName},OU=Groups,DC=example,DC=com" : `cn={displayName},${GROUPS}`;
  return compileGroupRule(groupRuleSchema.parse({ name: "g", target: "t", preset, dn, ...over }));
}

const entry = (cn = "eng", attributes: Record<string, string[]> = {}, parent = GROUPS): GroupEntry => ({ dn: `cn=${cn},${parent}`, attributes: { cn: [cn], ...attributes } });
const written = (over: Partial<WrittenGroup> = {}): WrittenGroup => ({ ...entry(), placeholder: false, memberCount: 2, ...over });

function plan(over: Partial<GroupPlanInput> & Pick<GroupPlanInput, "rule">) {
  const result = planGroup({ membersAdded: [], membersRemoved: [], event: "upsert", after: entry(), ...over });
  if ("error" in result) throw new Error(result.error);
  return result;
}

const add = (dn: string, attribute = "member"): LdapOp => ({ kind: "modify", dn: `cn=eng,${GROUPS}`, changes: [{ operation: "add", attribute, values: [dn] }] });
const del = (dn: string, attribute = "member"): LdapOp => ({ kind: "modify", dn: `cn=eng,${GROUPS}`, changes: [{ operation: "delete", attribute, values: [dn] }] });

/** No op anywhere replaces or rewrites a member attribute as a whole: value-level add/delete in chunks of at most 500. */
function noWholeListWrites(ops: LdapOp[]) {
  for (const op of ops) {
    if (op.kind !== "modify") continue;
    for (const c of op.changes) {
      if (/^(unique)?member$/i.test(c.attribute)) {
        expect(c.operation).not.toBe("replace");
        expect(c.values.length).toBeGreaterThan(0);
        expect(c.values.length).toBeLessThanOrEqual(500);
      }
    }
  }
}

describe("group presets", () => {
  it.each([
    ["global", true, "-2147483646"],
    ["domainLocal", true, "-2147483644"],
    ["universal", true, "-2147483640"],
    ["global", false, "2"],
    ["domainLocal", false, "4"],
    ["universal", false, "8"],
  ] as const)("AD groupType %s security=%s is %s (MS-ADTS 2.2.12)", (scope, security, value) => {
    expect(adGroupType({ scope, security })).toBe(value);
  });

  it.each([
    ["active-directory", undefined, ["top", "group"], "member", true],
    ["openldap", undefined, ["top", "groupOfNames"], "member", false],
    ["openldap", "groupOfUniqueNames", ["top", "groupOfUniqueNames"], "uniqueMember", false],
    ["pingdirectory", undefined, ["top", "groupOfNames"], "member", true],
    ["pingdirectory", "groupOfUniqueNames", ["top", "groupOfUniqueNames"], "uniqueMember", true],
  ] as const)("%s %s: classes, member attribute, empty allowed", (dir, oc, classes, attr, empty) => {
    const p = getGroupPreset(dir, oc);
    expect(p.objectClasses).toEqual(classes);
    expect(p.memberAttribute).toBe(attr);
    expect(p.allowsEmpty).toBe(empty);
  });

  it.each([
    ["Engineering", undefined],
    ["x".repeat(21), undefined], // groups are not held to the 20-character user limit
    ["x".repeat(256), undefined],
    ["x".repeat(257), /longer than 256/],
    ["eng/ops", /forbids/],
    ["a,b", /forbids/],
    ["tab\there", /forbids/],
    ["trailing.", /period/],
    ["", /empty/],
  ])("group sAMAccountName %j", (sam, problem) => {
    const found = checkGroupSamAccountName(sam);
    if (problem) expect(found).toMatch(problem);
    else expect(found).toBeUndefined();
  });
});

describe("create", () => {
  it("one add with object classes, naming attribute, mapped attributes and all initial members as one multi-valued attribute", () => {
    const r = plan({ rule: rule("openldap"), after: entry("eng", { description: ["Engineers"], ou: [] }), membersAdded: [u(1), u(2), u(1)] });
    expect(r.ops).toEqual([
      { kind: "add", dn: `cn=eng,${GROUPS}`, attributes: { objectClass: ["top", "groupOfNames"], cn: ["eng"], description: ["Engineers"], member: [u(1), u(2)] } },
    ]);
    expect(r.written).toEqual({ dn: `cn=eng,${GROUPS}`, attributes: { cn: ["eng"], description: ["Engineers"], ou: [] }, placeholder: false, memberCount: 2 });
  });

  it("groupOfUniqueNames writes uniqueMember", () => {
    const r = plan({ rule: rule("openldap", { objectClass: "groupOfUniqueNames" }), membersAdded: [u(1)] });
    expect(r.ops[0]).toMatchObject({ kind: "add", attributes: { objectClass: ["top", "groupOfUniqueNames"], uniqueMember: [u(1)] } });
  });

  it("puts the RDN value into the naming attribute even when not mapped", () => {
    const r = plan({ rule: rule("openldap"), after: { dn: `cn=Smith\\, Ops,${GROUPS}`, attributes: {} }, membersAdded: [u(1)] });
    expect(r.ops[0]).toMatchObject({ attributes: { cn: ["Smith, Ops"] } });
  });

  it.each([
    ["default global security", {}, "-2147483646"],
    ["universal distribution", { groupType: { scope: "universal", security: false } }, "8"],
    ["domain-local security", { groupType: { scope: "domainLocal" } }, "-2147483644"],
  ] as const)("AD: objectClass group, groupType (%s), sAMAccountName", (_what, over, groupType) => {
    const after = { dn: "CN=Engineering,OU=Groups,DC=example,DC=com", attributes: { cn: ["Engineering"], sAMAccountName: ["Engineering"] } };
    const r = plan({ rule: rule("active-directory", over), after });
    expect(r.ops).toEqual([{ kind: "add", dn: after.dn, attributes: { objectClass: ["top", "group"], cn: ["Engineering"], sAMAccountName: ["Engineering"], groupType: [groupType] } }]);
    // AD keeps empty groups: no placeholder.
    expect(r.written).toMatchObject({ placeholder: false, memberCount: 0 });
  });

  it("AD: sAMAccountName falls back to the RDN value when not mapped", () => {
    const r = plan({ rule: rule("active-directory"), after: { dn: "CN=Eng Ops,OU=Groups,DC=example,DC=com", attributes: {} } });
    expect(r.ops[0]).toMatchObject({ attributes: { CN: ["Eng Ops"], sAMAccountName: ["Eng Ops"] } });
  });

  it.each([
    ["a forbidden character", "eng/ops", /forbids/],
    ["over 256 characters", "x".repeat(257), /longer than 256/],
  ])("AD: a sAMAccountName with %s is a clear error", (_what, sam, problem) => {
    const result = planGroup({ rule: rule("active-directory"), event: "upsert", membersAdded: [], membersRemoved: [], after: { dn: "CN=x,OU=Groups,DC=example,DC=com", attributes: { sAMAccountName: [sam] } } });
    expect(result).toEqual({ error: expect.stringMatching(problem) });
  });

  it.each([
    ["OpenLDAP, placeholder (default)", "openldap", "placeholder", [PLACEHOLDER], true],
    ["PingDirectory allows empty groups", "pingdirectory", "placeholder", undefined, false],
    ["AD allows empty groups", "active-directory", "skip", undefined, false],
  ] as const)("empty group: %s", (_what, preset, emptyGroups, members, placeholder) => {
    const after = preset === "active-directory" ? { dn: "CN=eng,OU=Groups,DC=example,DC=com", attributes: {} } : entry();
    const r = plan({ rule: rule(preset, { emptyGroups }), after });
    expect(r.ops).toHaveLength(1);
    const op = r.ops[0];
    expect(op?.kind).toBe("add");
    if (op?.kind === "add") expect(op.attributes.member).toEqual(members);
    expect(r.written).toMatchObject({ placeholder, memberCount: 0 });
  });

  it("custom placeholderDn", () => {
    const r = plan({ rule: rule("openldap", { placeholderDn: "cn=empty,ou=system,dc=example,dc=com" }) });
    expect(r.ops[0]).toMatchObject({ attributes: { member: ["cn=empty,ou=system,dc=example,dc=com"] } });
  });

  it("emptyGroups skip: no op for an empty group, then the first member's arrival is the add carrying it", () => {
    const r0 = plan({ rule: rule("openldap", { emptyGroups: "skip" }) });
    expect(r0).toEqual({ ops: [], written: null });
    const r1 = plan({ rule: rule("openldap", { emptyGroups: "skip" }), lastWritten: undefined, membersAdded: [u(1)] });
    expect(r1.ops).toEqual([{ kind: "add", dn: `cn=eng,${GROUPS}`, attributes: { objectClass: ["top", "groupOfNames"], cn: ["eng"], member: [u(1)] } }]);
    expect(r1.written).toMatchObject({ placeholder: false, memberCount: 1 });
  });

  it("create off: nothing", () => {
    expect(plan({ rule: rule("openldap", { actions: { create: false } }), membersAdded: [u(1)] })).toEqual({ ops: [], written: null });
  });

  it("members off: created without members, placeholder where one is required", () => {
    const r = plan({ rule: rule("openldap", { emptyGroups: "skip", actions: { members: false } }), membersAdded: [u(1)] });
    expect(r.ops[0]).toMatchObject({ kind: "add", attributes: { member: [PLACEHOLDER] } });
  });

  it("the placeholder is never passed twice as a member", () => {
    const r = plan({ rule: rule("openldap"), membersAdded: [PLACEHOLDER.toUpperCase(), u(1)] });
    expect(r.ops[0]).toMatchObject({ attributes: { member: [u(1)] } });
  });
});

describe("rename and move", () => {
  it.each([
    ["rename", entry("platform"), { newRdn: "cn=platform" }],
    ["rename with a value needing RFC 4514 escapes", entry("Smith\\, \\#1"), { newRdn: "cn=Smith\\, #1" }],
    ["move", entry("eng", {}, "ou=teams,dc=example,dc=com"), { newRdn: "cn=eng", newSuperior: "ou=teams,dc=example,dc=com" }],
    ["rename + move", entry("platform", {}, "ou=teams,dc=example,dc=com"), { newRdn: "cn=platform", newSuperior: "ou=teams,dc=example,dc=com" }],
  ])("%s is one modifyDN", (_what, after, expected) => {
    const r = plan({ rule: rule("openldap"), lastWritten: written(), after });
    expect(r.ops).toEqual([{ kind: "modifyDN", dn: `cn=eng,${GROUPS}`, ...expected }]);
    expect(r.written?.dn).toBe(after.dn);
  });

  it("a DN that differs only in escaping, the types' case or the parent's case is not a rename", () => {
    const r = plan({ rule: rule("openldap"), lastWritten: written({ dn: `CN=e\\6eg,OU=Groups,DC=Example,DC=com` }), after: entry() });
    expect(r.ops).toEqual([]);
  });

  // The directory shows the identity provider's spelling: a case-only rename is written (ldap-targets.md §7).
  it.each(["openldap", "pingdirectory", "active-directory"] as const)("%s: a case-only change of the name is a modifyDN to the new case", (preset) => {
    const r = plan({ rule: rule(preset), lastWritten: written({ dn: `cn=blue,${GROUPS}`, attributes: { cn: ["blue"] } }), after: entry("BLUE") });
    expect(r.ops).toEqual([{ kind: "modifyDN", dn: `cn=blue,${GROUPS}`, newRdn: "cn=BLUE" }]);
    expect(r.written?.dn).toBe(`cn=BLUE,${GROUPS}`);
  });

  it("a case-only rename with rename off: nothing", () => {
    const r = plan({ rule: rule("openldap", { actions: { rename: false } }), lastWritten: written({ dn: `cn=blue,${GROUPS}`, attributes: { cn: ["blue"] } }), after: entry("BLUE") });
    expect(r.ops).toEqual([]);
    expect(r.written?.dn).toBe(`cn=blue,${GROUPS}`);
  });

  it("rename off: no modifyDN; other changes go to the existing DN", () => {
    const r = plan({ rule: rule("openldap", { actions: { rename: false } }), lastWritten: written(), after: entry("platform", { description: ["x"] }), membersAdded: [u(3)] });
    expect(r.ops).toEqual([
      { kind: "modify", dn: `cn=eng,${GROUPS}`, changes: [{ operation: "replace", attribute: "description", values: ["x"] }] },
      add(u(3)),
    ]);
    expect(r.written?.dn).toBe(`cn=eng,${GROUPS}`);
  });

  it("member ops after a rename go to the new DN", () => {
    const r = plan({ rule: rule("openldap"), lastWritten: written(), after: entry("platform"), membersAdded: [u(3)] });
    expect(r.ops[1]).toEqual({ kind: "modify", dn: `cn=platform,${GROUPS}`, changes: [{ operation: "add", attribute: "member", values: [u(3)] }] });
  });
});

describe("attributes", () => {
  it("replaces only the mapped attributes that changed, never the RDN or member attributes", () => {
    const last = written({ attributes: { cn: ["eng"], description: ["old"], businessCategory: ["a", "b"], ou: ["x"] } });
    const after = entry("eng", { description: ["new"], businessCategory: ["b", "a"], ou: [] });
    const r = plan({ rule: rule("openldap"), lastWritten: last, after });
    expect(r.ops).toEqual([
      {
        kind: "modify",
        dn: `cn=eng,${GROUPS}`,
        changes: [
          { operation: "replace", attribute: "description", values: ["new"] },
          { operation: "replace", attribute: "ou", values: [] },
        ],
      },
    ]);
    expect(r.written?.attributes).toEqual(after.attributes);
  });

  it("update off: no attribute modify", () => {
    const r = plan({ rule: rule("openldap", { actions: { update: false } }), lastWritten: written(), after: entry("eng", { description: ["new"] }) });
    expect(r.ops).toEqual([]);
  });
});

describe("memberships", () => {
  // A member renamed in case only: the value follows its entry's spelling (ldap-targets.md §7).
  const respelled = [{ from: "uid=Dan,ou=people,dc=example,dc=com", to: "uid=dan,ou=people,dc=example,dc=com" }];
  it("a member value in an old spelling is rewritten in one modify: delete the old, add the new", () => {
    const r = plan({ rule: rule("openldap"), lastWritten: written({ memberCount: 1 }), membersRespelled: respelled, membersAdded: [u(3)], memberCount: 2 });
    expect(r.ops).toEqual([
      { kind: "modify", dn: `cn=eng,${GROUPS}`, changes: [{ operation: "delete", attribute: "member", values: [respelled[0]!.from] }, { operation: "add", attribute: "member", values: [respelled[0]!.to] }] },
      add(u(3)),
    ]);
    expect(r.written).toMatchObject({ placeholder: false, memberCount: 2 });
  });

  it("uniqueMember for groupOfUniqueNames; never on AD, which shows a member's current DN itself", () => {
    const unique = plan({ rule: rule("pingdirectory", { objectClass: "groupOfUniqueNames" }), lastWritten: written(), membersRespelled: respelled });
    expect(unique.ops).toEqual([{ kind: "modify", dn: `cn=eng,${GROUPS}`, changes: [{ operation: "delete", attribute: "uniqueMember", values: [respelled[0]!.from] }, { operation: "add", attribute: "uniqueMember", values: [respelled[0]!.to] }] }]);
    expect(plan({ rule: rule("active-directory"), lastWritten: written(), membersRespelled: respelled }).ops).toEqual([]);
    expect(plan({ rule: rule("openldap", { actions: { members: false } }), lastWritten: written(), membersRespelled: respelled }).ops).toEqual([]);
  });

  it("each added and removed member is its own single-value modify", () => {
    const r = plan({ rule: rule("openldap"), lastWritten: written({ memberCount: 3 }), membersAdded: [u(3), u(4)], membersRemoved: [u(1)], memberCount: 4 });
    expect(r.ops).toEqual([add(u(3)), add(u(4)), del(u(1))]);
    expect(r.written).toMatchObject({ placeholder: false, memberCount: 4 });
  });

  it("uniqueMember for groupOfUniqueNames", () => {
    const r = plan({ rule: rule("pingdirectory", { objectClass: "groupOfUniqueNames" }), lastWritten: written(), membersAdded: [u(3)], membersRemoved: [u(1)] });
    expect(r.ops).toEqual([add(u(3), "uniqueMember"), del(u(1), "uniqueMember")]);
  });

  it("at scale: 1,000 added ids -> 2 value-level modify-adds of 500, no whole-list replace", () => {
    const ids = Array.from({ length: 1000 }, (_, i) => u(i + 10));
    const r = plan({ rule: rule("openldap"), lastWritten: written({ memberCount: 100_000 }), membersAdded: ids });
    expect(r.ops).toHaveLength(2);
    expect(r.ops).toEqual([0, 500].map((i) => ({ kind: "modify", dn: `cn=eng,${GROUPS}`, changes: [{ operation: "add", attribute: "member", values: ids.slice(i, i + 500) }] })));
    noWholeListWrites(r.ops);
    expect(r.written).toMatchObject({ memberCount: 101_000 });
  });

  it("a value a departed member's entry may hold is deleted without counting as a member leaving (no placeholder)", () => {
    const r = plan({ rule: rule("openldap"), lastWritten: written({ memberCount: 1 }), membersRemoved: [], membersMaybeHeld: [u(9)] });
    expect(r.ops).toEqual([del(u(9))]);
    expect(r.written).toMatchObject({ memberCount: 1, placeholder: false });
    // Counted, the same removal would empty the group: the placeholder goes in first.
    const counted = plan({ rule: rule("openldap"), lastWritten: written({ memberCount: 1 }), membersRemoved: [u(9)] });
    expect(counted.ops).toEqual([add(PLACEHOLDER), del(u(9))]);
  });

  it("at scale: 1,000 removed ids -> 2 value-level modify-deletes", () => {
    const ids = Array.from({ length: 1000 }, (_, i) => u(i));
    const r = plan({ rule: rule("active-directory"), lastWritten: written({ memberCount: 100_000 }), membersRemoved: ids, memberCount: 99_000 });
    expect(r.ops).toHaveLength(2);
    noWholeListWrites(r.ops);
  });

  it(`up to ${SINGLE_VALUE_MEMBER_OPS} members: one single-value modify each`, () => {
    const ids = Array.from({ length: SINGLE_VALUE_MEMBER_OPS }, (_, i) => u(i + 10));
    const r = plan({ rule: rule("openldap"), lastWritten: written({ memberCount: 3 }), membersAdded: ids });
    expect(r.ops).toEqual(ids.map((m) => add(m)));
  });

  it("a new group with 1,200 members: the add carries 500, then modify-adds of 500 and 200", () => {
    const ids = Array.from({ length: 1200 }, (_, i) => u(i));
    const r = plan({ rule: rule("openldap"), membersAdded: ids });
    expect(r.ops.map((op) => op.kind)).toEqual(["add", "modify", "modify"]);
    const first = r.ops[0]!;
    expect(first.kind === "add" && first.attributes.member).toEqual(ids.slice(0, 500));
    expect(r.ops.slice(1).map((op) => (op.kind === "modify" ? op.changes[0]!.values.length : 0))).toEqual([500, 200]);
    expect(r.written).toMatchObject({ memberCount: 1200, placeholder: false });
  });

  it("duplicates are folded; a DN in both lists is a no-op", () => {
    const r = plan({ rule: rule("openldap"), lastWritten: written(), membersAdded: [u(3), u(3).toUpperCase(), u(5)], membersRemoved: [u(5), u(1)], memberCount: 2 });
    expect(r.ops).toEqual([add(u(3)), del(u(1))]);
  });

  it("placeholder present, first real member arrives: add the member THEN delete the placeholder", () => {
    const r = plan({ rule: rule("openldap"), lastWritten: written({ placeholder: true, memberCount: 0 }), membersAdded: [u(1)], memberCount: 1 });
    expect(r.ops).toEqual([add(u(1)), del(PLACEHOLDER)]);
    expect(r.written).toMatchObject({ placeholder: false, memberCount: 1 });
  });

  it("last real member leaves: add the placeholder BEFORE deleting the member", () => {
    const r = plan({ rule: rule("openldap"), lastWritten: written({ memberCount: 1 }), membersRemoved: [u(1)], memberCount: 0 });
    expect(r.ops).toEqual([add(PLACEHOLDER), del(u(1))]);
    expect(r.written).toMatchObject({ placeholder: true, memberCount: 0 });
  });

  it("last member leaves while another arrives: add first, no placeholder needed", () => {
    const r = plan({ rule: rule("openldap"), lastWritten: written({ memberCount: 1 }), membersAdded: [u(2)], membersRemoved: [u(1)], memberCount: 1 });
    expect(r.ops).toEqual([add(u(2)), del(u(1))]);
    expect(r.written).toMatchObject({ placeholder: false });
  });

  it("memberCount derived from lastWritten when the caller does not pass it", () => {
    const r = plan({ rule: rule("openldap"), lastWritten: written({ memberCount: 1 }), membersRemoved: [u(1)] });
    expect(r.ops).toEqual([add(PLACEHOLDER), del(u(1))]);
  });

  it("unknown member count: the placeholder goes in before removals to be safe, and leaves with the next real member", () => {
    const r = plan({ rule: rule("openldap"), lastWritten: written({ memberCount: undefined }), membersRemoved: [u(1)] });
    expect(r.ops).toEqual([add(PLACEHOLDER), del(u(1))]);
    expect(r.written).toMatchObject({ placeholder: true });
    expect(r.written?.memberCount).toBeUndefined();
    const r2 = plan({ rule: rule("openldap"), lastWritten: r.written ?? undefined, membersAdded: [u(9)] });
    expect(r2.ops).toEqual([add(u(9)), del(PLACEHOLDER)]);
  });

  it.each(["active-directory", "pingdirectory"] as const)("%s: the last member leaves without a placeholder", (preset) => {
    const r = plan({ rule: rule(preset), lastWritten: written({ memberCount: 1 }), membersRemoved: [u(1)], memberCount: 0 });
    expect(r.ops).toEqual([del(u(1))]);
    expect(r.written).toMatchObject({ placeholder: false, memberCount: 0 });
  });

  it("emptyGroups skip: the last member leaving deletes the group (re-created when one arrives)", () => {
    const r = plan({ rule: rule("openldap", { emptyGroups: "skip" }), lastWritten: written({ memberCount: 1 }), membersRemoved: [u(1)], memberCount: 0 });
    expect(r).toEqual({ ops: [{ kind: "delete", dn: `cn=eng,${GROUPS}` }], written: null });
  });

  it("emptyGroups skip with delete off: falls back to the placeholder", () => {
    const r = plan({ rule: rule("openldap", { emptyGroups: "skip", actions: { delete: false } }), lastWritten: written({ memberCount: 1 }), membersRemoved: [u(1)], memberCount: 0 });
    expect(r.ops).toEqual([add(PLACEHOLDER), del(u(1))]);
  });

  it("members off: no member ops", () => {
    const r = plan({ rule: rule("openldap", { actions: { members: false } }), lastWritten: written(), membersAdded: [u(3)], membersRemoved: [u(1)] });
    expect(r.ops).toEqual([]);
  });
});

describe("deprovision", () => {
  it.each([
    ["delete", {}, [{ kind: "delete", dn: `cn=eng,${GROUPS}` }]],
    ["leftFilter", {}, [{ kind: "delete", dn: `cn=eng,${GROUPS}` }]],
    ["ruleRemoved", {}, []],
    ["ruleRemoved", { deprovision: { onRuleRemoved: "delete" } }, [{ kind: "delete", dn: `cn=eng,${GROUPS}` }]],
    ["delete", { deprovision: { onDelete: "none" } }, []],
    ["leftFilter", { deprovision: { onLeaveFilter: "none" } }, []],
    ["delete", { delete: false }, []],
  ] as const)("%s with %j", (event, actions, ops) => {
    const r = plan({ rule: rule("openldap", { actions }), lastWritten: written(), event });
    expect(r.ops).toEqual(ops);
    expect(r.written).toEqual(ops.length ? null : written());
  });

  it("nothing written: nothing to delete", () => {
    expect(plan({ rule: rule("openldap"), event: "delete" })).toEqual({ ops: [], written: null });
  });
});

describe("errors", () => {
  it("an upsert without the mapped group", () => {
    expect(planGroup({ rule: rule("openldap"), event: "upsert", membersAdded: [], membersRemoved: [] })).toEqual({ error: expect.stringContaining("after") });
  });

  it("an unparsable DN comes back as an error, not a throw", () => {
    expect(planGroup({ rule: rule("openldap"), event: "upsert", membersAdded: [], membersRemoved: [], after: { dn: "not a dn", attributes: {} } })).toHaveProperty("error");
  });

  it("compileGroupRule needs a preset or a target", () => {
    const config = groupRuleSchema.parse({ name: "g", target: "t", dn: `cn={displayName},${GROUPS}` });
    expect(() => compileGroupRule(config)).toThrow(/preset/);
    expect(compileGroupRule(config, { directory: "active-directory" }).groupType).toBe("-2147483646");
  });
});
