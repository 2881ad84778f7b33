// SCIM PATCH (RFC 7644 §3.5.2) applied in memory; client op shapes from idp-traffic.md §3-§5.
import { describe, expect, it } from "vitest";
import { ScimError } from "../../schemas/errors.js";
import { applyPatch, PATCH_OP_URN, type MemberOp } from "../../schemas/patch.js";
import { ENTERPRISE_USER as ENT, SchemaRegistry } from "../../schemas/registry.js";

const registry = new SchemaRegistry();

type Op = Record<string, unknown>;
const body = (...Operations: Op[]) => ({ schemas: [PATCH_OP_URN], Operations });

function deepFreeze<T>(v: T): T {
  if (typeof v === "object" && v !== null) {
    Object.values(v).forEach(deepFreeze);
    Object.freeze(v);
  }
  return v;
}

const work = { value: "alice@work.example", type: "work", primary: true };
const home = { value: "alice@home.example", type: "home" };
// Frozen: applyPatch must never mutate `current` (a write would throw in strict mode).
const alice = deepFreeze({
  userName: "alice",
  active: true,
  displayName: "Alice",
  name: { givenName: "Alice", familyName: "Smith" },
  emails: [work, home],
  [ENT]: { employeeNumber: "701984", manager: { value: "boss-id", displayName: "Boss" } },
});
const eng = deepFreeze({ displayName: "Engineering" });

const patchUser = (...ops: Op[]) => applyPatch(registry, "User", alice, body(...ops));
const patchGroup = (...ops: Op[]) => applyPatch(registry, "Group", eng, body(...ops));

function scimError(fn: () => unknown): { status: number; scimType: string | undefined } {
  try {
    fn();
  } catch (e) {
    if (e instanceof ScimError) return { status: e.status, scimType: e.scimType };
    throw e;
  }
  throw new Error("expected a ScimError");
}

it("prerequisite: the registry reports emails as multi-valued", () => {
  // Every multi-valued case below depends on this (RFC 7643 §4.1.2).
  expect(registry.resolve("User", "emails")?.attr.multiValued).toBe(true);
});

describe("PatchOp body (RFC 7644 §3.5.2)", () => {
  it.each([
    ["missing schemas is tolerated", { Operations: [{ op: "add", path: "nickName", value: "B" }] }],
    ["lower-case `operations` key (RFC 7643 §2.1)", { schemas: [PATCH_OP_URN], operations: [{ op: "add", path: "nickName", value: "B" }] }],
    ["upper-case SCHEMAS key and URN", { SCHEMAS: [PATCH_OP_URN.toUpperCase()], Operations: [{ op: "add", path: "nickName", value: "B" }] }],
    ["capitalised op/path/value keys", body({ OP: "add", Path: "nickName", VALUE: "B" })],
    ["schemas as a bare string", { schemas: PATCH_OP_URN, Operations: [{ op: "add", path: "nickName", value: "B" }] }],
    ["null path means no path", body({ op: "add", path: null, value: { nickName: "B" } })],
    ["blank path means no path", body({ op: "add", path: " ", value: { nickName: "B" } })],
  ])("%s", (_name, b) => {
    expect(applyPatch(registry, "User", alice, b).attributes).toEqual({ ...alice, nickName: "B" });
  });

  it("empty Operations is a no-op (Entra sends one; scimmy rejects it)", () => {
    expect(applyPatch(registry, "User", alice, body())).toEqual({ attributes: alice, memberOps: [] });
  });

  it.each([["Replace"], ["REPLACE"], ["replace"]])("op %s is case-insensitive (Entra capitalises)", (op) => {
    expect(patchUser({ op, path: "displayName", value: "A" }).attributes.displayName).toBe("A");
  });

  it("returns a copy: current is untouched and the result shares no objects with it", () => {
    const r = patchUser({ op: "replace", path: "name.givenName", value: "Al" });
    expect(r.attributes.name).not.toBe(alice.name);
    expect(alice.name.givenName).toBe("Alice");
  });
});

describe("add (RFC 7644 §3.5.2.1)", () => {
  it.each<[string, Op[], Record<string, unknown>]>([
    ["single-valued sets", [{ op: "add", path: "nickName", value: "Babs" }], { nickName: "Babs" }],
    ["single-valued overwrites", [{ op: "add", path: "displayName", value: "Al" }], { displayName: "Al" }],
    ["case-insensitive path, canonical key", [{ op: "add", path: "NICKNAME", value: "x" }], { nickName: "x" }],
    ["URN-qualified core attribute", [{ op: "add", path: "urn:ietf:params:scim:schemas:core:2.0:User:title", value: "Dr" }], { title: "Dr" }],
    ["multi-valued appends", [{ op: "add", path: "emails", value: [{ value: "o@x", type: "other" }] }], { emails: [work, home, { value: "o@x", type: "other" }] }],
    ["multi-valued single object is one value", [{ op: "add", path: "emails", value: { value: "o@x", type: "other" } }], { emails: [work, home, { value: "o@x", type: "other" }] }],
    ["equal value is not duplicated", [{ op: "add", path: "emails", value: [{ type: "home", value: "alice@home.example" }] }], {}],
    ["duplicates within the value collapse", [{ op: "add", path: "emails", value: [{ value: "o@x" }, { value: "o@x" }] }], { emails: [work, home, { value: "o@x" }] }],
    [
      "new primary demotes the old one (§3.5.2)",
      [{ op: "add", path: "emails", value: [{ value: "n@x", type: "other", primary: true }] }],
      { emails: [{ ...work, primary: false }, home, { value: "n@x", type: "other", primary: true }] },
    ],
    ["sub-attribute", [{ op: "add", path: "name.givenName", value: "Al" }], { name: { givenName: "Al", familyName: "Smith" } }],
    ["complex merges sub-attributes", [{ op: "add", path: "name", value: { middleName: "Q" } }], { name: { givenName: "Alice", familyName: "Smith", middleName: "Q" } }],
    ["complex value keys canonicalised", [{ op: "add", path: "name", value: { MIDDLENAME: "Q" } }], { name: { givenName: "Alice", familyName: "Smith", middleName: "Q" } }],
    ["value path sets the sub-attribute", [{ op: "add", path: 'emails[type eq "work"].value', value: "w@x" }], { emails: [{ ...work, value: "w@x" }, home] }],
    ["value path filter is case-insensitive", [{ op: "add", path: 'EMAILS[TYPE eq "WORK"].VALUE', value: "w@x" }], { emails: [{ ...work, value: "w@x" }, home] }],
    ["value path merges an object into matches", [{ op: "add", path: 'emails[type eq "home"]', value: { display: "Home" } }], { emails: [work, { ...home, display: "Home" }] }],
    ["value path with no match creates {type, value} (Entra)", [{ op: "add", path: 'emails[type eq "other"].value', value: "o@x" }], { emails: [work, home, { type: "other", value: "o@x" }] }],
    ["enterprise attribute", [{ op: "add", path: `${ENT}:employeeNumber`, value: "42" }], { [ENT]: { ...alice[ENT], employeeNumber: "42" } }],
    ["enterprise manager object merges", [{ op: "add", path: `${ENT}:manager`, value: { value: "m2" } }], { [ENT]: { ...alice[ENT], manager: { value: "m2", displayName: "Boss" } } }],
    ["enterprise manager as bare string (Entra) is kept for coercion", [{ op: "add", path: `${ENT}:manager`, value: "m2" }], { [ENT]: { ...alice[ENT], manager: "m2" } }],
    ["readOnly sub-attribute inside a value is dropped", [{ op: "add", path: `${ENT}:manager`, value: { value: "m2", displayName: "X" } }], { [ENT]: { ...alice[ENT], manager: { value: "m2", displayName: "Boss" } } }],
    ["bare extension URN path with an object value", [{ op: "add", path: ENT, value: { costCenter: "4130" } }], { [ENT]: { ...alice[ENT], costCenter: "4130" } }],
    ["null unassigns (RFC 7643 §2.5)", [{ op: "add", path: "displayName", value: null }], { displayName: undefined }],
    ["null on a value path with no match is a no-op", [{ op: "add", path: 'emails[type eq "other"].value', value: null }], {}],
    ["[] on a multi-valued attribute adds nothing", [{ op: "add", path: "emails", value: [] }], {}],
    ["values kept in client dialect", [{ op: "add", path: "active", value: "False" }], { active: "False" }],
    [
      "without path: keys merge with add semantics",
      [{ op: "add", value: { nickName: "B", name: { middleName: "Q" }, emails: [{ value: "o@x" }] } }],
      { nickName: "B", name: { ...alice.name, middleName: "Q" }, emails: [work, home, { value: "o@x" }] },
    ],
    ["without path: extension URN object", [{ op: "add", value: { [ENT]: { department: "R&D" } } }], { [ENT]: { ...alice[ENT], department: "R&D" } }],
  ])("%s", (_name, ops, expected) => {
    expect(patchUser(...ops)).toEqual({ attributes: { ...alice, ...expected }, memberOps: [] });
  });

  it("creates the extension object when absent", () => {
    const r = applyPatch(registry, "User", { userName: "bob" }, body({ op: "add", path: `${ENT}:employeeNumber`, value: "7" }));
    expect(r.attributes).toEqual({ userName: "bob", [ENT]: { employeeNumber: "7" } });
  });

  it("creates a complex attribute from a sub-attribute path", () => {
    const r = applyPatch(registry, "User", { userName: "bob" }, body({ op: "add", path: "name.givenName", value: "Bob" }));
    expect(r.attributes).toEqual({ userName: "bob", name: { givenName: "Bob" } });
  });
});

describe("replace (RFC 7644 §3.5.2.3)", () => {
  it.each<[string, Op[], Record<string, unknown>]>([
    ["single-valued", [{ op: "replace", path: "userName", value: "alice2" }], { userName: "alice2" }],
    ["multi-valued replaces the whole list", [{ op: "replace", path: "emails", value: [{ value: "n@x", type: "work" }] }], { emails: [{ value: "n@x", type: "work" }] }],
    ["multi-valued [] unassigns", [{ op: "replace", path: "emails", value: [] }], { emails: undefined }],
    ["complex leaves unspecified sub-attributes", [{ op: "replace", path: "name", value: { givenName: "Al" } }], { name: { givenName: "Al", familyName: "Smith" } }],
    ["complex null sub-attribute unassigns it", [{ op: "replace", path: "name", value: { familyName: null } }], { name: { givenName: "Alice" } }],
    ["sub-attribute", [{ op: "replace", path: "name.familyName", value: "Jones" }], { name: { givenName: "Alice", familyName: "Jones" } }],
    ["value path sub-attribute", [{ op: "replace", path: 'emails[type eq "work"].value', value: "w@x" }], { emails: [{ ...work, value: "w@x" }, home] }],
    ["value path replaces whole matching elements", [{ op: "replace", path: 'emails[type eq "work"]', value: { value: "w@x", type: "work" } }], { emails: [{ value: "w@x", type: "work" }, home] }],
    [
      "value path primary true demotes the others (§3.5.2)",
      [{ op: "replace", path: 'emails[type eq "home"].primary', value: true }],
      { emails: [{ ...work, primary: false }, { ...home, primary: true }] },
    ],
    ["sub-attribute of a multi-valued attribute without filter: every value", [{ op: "replace", path: "emails.display", value: "d" }], { emails: [{ ...work, display: "d" }, { ...home, display: "d" }] }],
    ["null unassigns", [{ op: "replace", path: "displayName", value: null }], { displayName: undefined }],
    ["enterprise attribute", [{ op: "replace", path: `${ENT}:employeeNumber`, value: "1" }], { [ENT]: { ...alice[ENT], employeeNumber: "1" } }],
    ["without path: simple attribute (Okta deactivate)", [{ op: "replace", value: { active: false } }], { active: false }],
    ["without path: multi-valued REPLACES (scimmy appends)", [{ op: "replace", value: { emails: [{ value: "n@x" }] } }], { emails: [{ value: "n@x" }] }],
    [
      "without path: dotted, URN-qualified and value-path keys (Entra aadOptscim062020)",
      [{ op: "replace", value: { "name.givenName": "G", [`${ENT}:employeeNumber`]: "9", 'emails[type eq "work"].value': "e@x" } }],
      { name: { givenName: "G", familyName: "Smith" }, emails: [{ ...work, value: "e@x" }, home], [ENT]: { ...alice[ENT], employeeNumber: "9" } },
    ],
    ["without path: extension URN object replaces each key", [{ op: "replace", value: { [ENT]: { employeeNumber: "5", costCenter: "c" } } }], { [ENT]: { ...alice[ENT], employeeNumber: "5", costCenter: "c" } }],
    [
      "without path: readOnly, schemas and unknown keys are ignored",
      [{ op: "replace", value: { id: "x", meta: { version: "1" }, groups: [{ value: "g" }], schemas: ["s"], foo: 1, "urn:example:custom:1.0:User:x": 2, displayName: "A" } }],
      { displayName: "A" },
    ],
    ["without path: readOnly sub-attribute key ignored", [{ op: "replace", value: { [`${ENT}:manager.displayName`]: "X" } }], {}],
  ])("%s", (_name, ops, expected) => {
    expect(patchUser(...ops)).toEqual({ attributes: { ...alice, ...expected }, memberOps: [] });
  });
});

describe("remove (RFC 7644 §3.5.2.2)", () => {
  const { manager } = alice[ENT];
  it.each<[string, Op[], Record<string, unknown>]>([
    ["attribute", [{ op: "remove", path: "displayName" }], { displayName: undefined }],
    ["absent attribute is a no-op", [{ op: "remove", path: "nickName" }], {}],
    ["sub-attribute", [{ op: "remove", path: "name.familyName" }], { name: { givenName: "Alice" } }],
    ["last sub-attribute removes the attribute", [{ op: "remove", path: "name.familyName" }, { op: "remove", path: "name.givenName" }], { name: undefined }],
    ["matching values", [{ op: "remove", path: 'emails[type eq "home"]' }], { emails: [work] }],
    ["matching values, or-filter", [{ op: "remove", path: 'emails[type eq "home" or type eq "work"]' }], { emails: undefined }],
    ["no matching value is a no-op", [{ op: "remove", path: 'emails[type eq "other"]' }], {}],
    ["sub-attribute of matching values", [{ op: "remove", path: 'emails[type eq "work"].primary' }], { emails: [{ value: work.value, type: "work" }, home] }],
    ["multi-valued attribute", [{ op: "remove", path: "emails" }], { emails: undefined }],
    ["multi-valued with a value array removes those values (Entra style)", [{ op: "remove", path: "emails", value: [home] }], { emails: [work] }],
    ["enterprise attribute", [{ op: "remove", path: `${ENT}:employeeNumber` }], { [ENT]: { manager } }],
    ["enterprise sub-attribute", [{ op: "remove", path: `${ENT}:manager.value` }], { [ENT]: { ...alice[ENT], manager: { displayName: "Boss" } } }],
    ["last extension attribute removes the extension", [{ op: "remove", path: `${ENT}:employeeNumber` }, { op: "remove", path: `${ENT}:manager` }], { [ENT]: undefined }],
    ["bare extension URN", [{ op: "remove", path: ENT }], { [ENT]: undefined }],
  ])("%s", (_name, ops, expected) => {
    expect(patchUser(...ops)).toEqual({ attributes: { ...alice, ...expected }, memberOps: [] });
  });

  it("from an absent extension is a no-op", () => {
    const r = applyPatch(registry, "User", { userName: "bob" }, body({ op: "remove", path: `${ENT}:employeeNumber` }));
    expect(r.attributes).toEqual({ userName: "bob" });
  });
});

describe("password (writeOnly, RFC 7643 §4.1.1)", () => {
  it.each<[string, Op]>([
    ["path", { op: "replace", path: "password", value: "s3cret" }],
    ["path, any case", { op: "add", path: "PassWord", value: "s3cret" }],
    ["key without path", { op: "replace", value: { password: "s3cret" } }],
  ])("%s goes to result.password, never attributes", (_name, op) => {
    const r = patchUser(op);
    expect(r.password).toBe("s3cret");
    expect(r.attributes).toEqual(alice);
  });
});

describe("Group members become memberOps (never attributes)", () => {
  it.each<[string, Op[], MemberOp[], Record<string, unknown>?]>([
    ["add", [{ op: "add", path: "members", value: [{ value: "u1" }, { value: "g1", type: "group" }] }], [{ op: "add", members: [{ value: "u1" }, { value: "g1", type: "Group" }] }]],
    ["add: single object; $ref, display and an unknown type dropped", [{ op: "add", path: "members", value: { value: "u1", $ref: null, display: "U", type: "Device" } }], [{ op: "add", members: [{ value: "u1" }] }]],
    ["add: duplicate ids within one op", [{ op: "add", path: "members", value: [{ value: "u1" }, { value: "u1", type: "User" }] }], [{ op: "add", members: [{ value: "u1" }] }]],
    ["replace: removeAll then add", [{ op: "replace", path: "members", value: [{ value: "u1" }] }], [{ op: "removeAll" }, { op: "add", members: [{ value: "u1" }] }]],
    ["replace []: clears", [{ op: "replace", path: "members", value: [] }], [{ op: "removeAll" }]],
    ["remove without value: all", [{ op: "remove", path: "members" }], [{ op: "removeAll" }]],
    ["remove with value array: those ids", [{ op: "remove", path: "members", value: [{ value: "u1" }, { value: "u2" }] }], [{ op: "remove", ids: ["u1", "u2"] }]],
    ["remove with empty value array: nothing", [{ op: "remove", path: "members", value: [] }], []],
    ["remove value eq", [{ op: "remove", path: 'members[value eq "u1"]' }], [{ op: "remove", ids: ["u1"] }]],
    ["remove or of value eq", [{ op: "remove", path: 'members[value eq "u1" or VALUE EQ "u2"]' }], [{ op: "remove", ids: ["u1", "u2"] }]],
    ["remove other filter: removeWhere", [{ op: "remove", path: 'members[type eq "Group"]' }], [{ op: "removeWhere", filter: { kind: "compare", path: "type", op: "eq", value: "Group" } }]],
    ["without path: add", [{ op: "add", value: { members: [{ value: "u1" }] } }], [{ op: "add", members: [{ value: "u1" }] }]],
    ["without path: replace", [{ op: "replace", value: { displayName: "Eng2", members: [] } }], [{ op: "removeAll" }], { displayName: "Eng2" }],
    ["order is kept", [{ op: "remove", path: "members" }, { op: "add", path: "members", value: [{ value: "u1" }] }, { op: "remove", path: 'members[value eq "u1"]' }], [{ op: "removeAll" }, { op: "add", members: [{ value: "u1" }] }, { op: "remove", ids: ["u1"] }]],
  ])("%s", (_name, ops, memberOps, attrs = {}) => {
    expect(patchGroup(...ops)).toEqual({ attributes: { ...eng, ...attrs }, memberOps });
  });
});

describe("errors (RFC 7644 §3.12)", () => {
  const U = "User" as const;
  const G = "Group" as const;
  it.each<[string, "User" | "Group", unknown, number, string]>([
    ["body not an object", U, [], 400, "invalidSyntax"],
    ["body null", U, null, 400, "invalidSyntax"],
    ["Operations missing", U, { schemas: [PATCH_OP_URN] }, 400, "invalidSyntax"],
    ["Operations not an array", U, { schemas: [PATCH_OP_URN], Operations: { op: "add" } }, 400, "invalidSyntax"],
    ["schemas without PatchOp", U, { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], Operations: [] }, 400, "invalidSyntax"],
    ["operation not an object", U, body("add" as unknown as Op), 400, "invalidSyntax"],
    ["unknown op", U, body({ op: "merge", path: "nickName", value: "x" }), 400, "invalidSyntax"],
    ["missing op", U, body({ path: "nickName", value: "x" }), 400, "invalidSyntax"],
    ["path not a string", U, body({ op: "add", path: 5, value: "x" }), 400, "invalidPath"],
    ["add without value", U, body({ op: "add", path: "nickName" }), 400, "invalidValue"],
    ["replace without value", U, body({ op: "replace", path: "nickName" }), 400, "invalidValue"],
    ["remove without path", U, body({ op: "remove" }), 400, "noTarget"],
    ["without path, value not an object", U, body({ op: "replace", value: "x" }), 400, "invalidValue"],
    ["without path, value an array", U, body({ op: "add", value: [{ nickName: "x" }] }), 400, "invalidValue"],
    ["without path, extension URN not an object", U, body({ op: "replace", value: { [ENT]: "x" } }), 400, "invalidValue"],
    ["unknown attribute", U, body({ op: "add", path: "foo", value: 1 }), 400, "invalidPath"],
    ["unknown sub-attribute", U, body({ op: "add", path: "name.foo", value: 1 }), 400, "invalidPath"],
    ["unknown extension", U, body({ op: "add", path: "urn:example:x:1.0:User:foo", value: 1 }), 400, "invalidPath"],
    ["unbalanced [", U, body({ op: "remove", path: 'emails[type eq "work"' }), 400, "invalidPath"],
    ["stray ]", U, body({ op: "remove", path: "emails]" }), 400, "invalidPath"],
    ["junk after ]", U, body({ op: "remove", path: 'emails[type eq "work"]x' }), 400, "invalidPath"],
    ["filter on a single-valued attribute", U, body({ op: "remove", path: 'displayName[value eq "x"]' }), 400, "invalidPath"],
    ["unknown sub-attribute after filter", U, body({ op: "replace", path: 'emails[type eq "work"].nope', value: 1 }), 400, "invalidPath"],
    ["bad filter", U, body({ op: "remove", path: "emails[type eq]" }), 400, "invalidFilter"],
    ["filter not applicable to the type", U, body({ op: "remove", path: "emails[primary gt true]" }), 400, "invalidFilter"],
    ["replace value path, no match", U, body({ op: "replace", path: 'emails[type eq "other"].value', value: "x" }), 400, "noTarget"],
    ["add value path, no match, not a type eq", U, body({ op: "add", path: 'emails[value co "zzz"].type', value: "x" }), 400, "noTarget"],
    ["readOnly id with a path", U, body({ op: "replace", path: "id", value: "x" }), 400, "mutability"],
    ["readOnly meta sub-attribute with a path", U, body({ op: "add", path: "meta.lastModified", value: "x" }), 400, "mutability"],
    ["readOnly groups with a path", U, body({ op: "add", path: "groups", value: [{ value: "g" }] }), 400, "mutability"],
    ["readOnly manager.displayName with a path", U, body({ op: "replace", path: `${ENT}:manager.displayName`, value: "x" }), 400, "mutability"],
    ["remove readOnly id", U, body({ op: "remove", path: "id" }), 400, "mutability"],
    ["remove password", U, body({ op: "remove", path: "password" }), 400, "mutability"],
    ["password not a string", U, body({ op: "replace", path: "password", value: 1 }), 400, "invalidValue"],
    ["members on a User", U, body({ op: "add", path: "members", value: [{ value: "u" }] }), 400, "invalidPath"],
    ["groups on a Group", G, body({ op: "add", path: "groups", value: [{ value: "g" }] }), 400, "invalidPath"],
    ["member without value", G, body({ op: "add", path: "members", value: [{ display: "x" }] }), 400, "invalidValue"],
    ["member value not a string", G, body({ op: "add", path: "members", value: [{ value: 5 }] }), 400, "invalidValue"],
    ["member as a bare string", G, body({ op: "add", path: "members", value: ["u1"] }), 400, "invalidValue"],
    ["member remove value without value", G, body({ op: "remove", path: "members", value: [{ display: "x" }] }), 400, "invalidValue"],
    ["members sub-attribute path", G, body({ op: "replace", path: "members.display", value: "x" }), 400, "invalidPath"],
  ])("%s -> %i %s", (_name, kind, b, status, scimType) => {
    expect(scimError(() => applyPatch(registry, kind, kind === "User" ? alice : eng, b))).toEqual({ status, scimType });
  });
});

// Each client's exact op shapes (idp-traffic.md §3, §4, §1.3), replayed end to end.
describe("client traffic", () => {
  const entraUser = "https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups";
  const entraFlags = "https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility";
  const okta = "https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/";
  const pingfed = "https://docs.pingidentity.com/integrations/scim/setup/pf_scim_connector_scim_connector_settings_reference.html";

  it.each<[string, string, Op[], Record<string, unknown>]>([
    ["Entra: Replace title + Add work email by value path", entraUser, [
      { op: "Replace", path: "title", value: "tester" },
      { op: "Add", path: 'emails[type eq "work"].value', value: "a@joe.com" },
    ], { title: "tester", emails: [{ ...work, value: "a@joe.com" }, home] }],
    ["Entra: Replace name.familyName and userName", entraUser, [
      { op: "Replace", path: "name.familyName", value: "Jones" },
      { op: "Replace", path: "userName", value: "alice@contoso.com" },
    ], { name: { givenName: "Alice", familyName: "Jones" }, userName: "alice@contoso.com" }],
    ["Entra: disable with string \"False\"", entraUser, [{ op: "Replace", path: "active", value: "False" }], { active: "False" }],
    ["Entra aadOptscim062020: disable with boolean", entraFlags, [{ op: "replace", path: "active", value: false }], { active: false }],
    ["Entra: Add nickName", entraUser, [{ op: "Add", path: "nickName", value: "Babs" }], { nickName: "Babs" }],
    ["Entra aadOptscim062020: path-less replace with dotted and URN keys", entraFlags, [{
      op: "replace",
      value: { displayName: "Al S", "name.givenName": "Al", [`${ENT}:employeeNumber`]: "1234" },
    }], { displayName: "Al S", name: { givenName: "Al", familyName: "Smith" }, [ENT]: { ...alice[ENT], employeeNumber: "1234" } }],
    ["Entra: manager as a string", entraUser, [{ op: "Add", path: `${ENT}:manager`, value: "123456" }], { [ENT]: { ...alice[ENT], manager: "123456" } }],
    ["Okta: deactivate", okta, [{ op: "replace", value: { active: false } }], { active: false }],
  ])("%s (%s)", (_name, _source, ops, expected) => {
    expect(patchUser(...ops)).toEqual({ attributes: { ...alice, ...expected }, memberOps: [] });
  });

  it.each<[string, string, Op[], MemberOp[], Record<string, unknown>?]>([
    ["Entra: Add members with $ref null", entraUser, [{ op: "Add", path: "members", value: [{ $ref: null, value: "u1" }] }], [{ op: "add", members: [{ value: "u1" }] }]],
    ["Entra: Remove members with a value array", entraUser, [{ op: "Remove", path: "members", value: [{ value: "u1" }] }], [{ op: "remove", ids: ["u1"] }]],
    ["Entra aadOptscim062020: remove members[value eq]", entraFlags, [{ op: "remove", path: 'members[value eq "u1"]' }], [{ op: "remove", ids: ["u1"] }]],
    ["Entra: Replace displayName", entraUser, [{ op: "Replace", path: "displayName", value: "Eng2" }], [], { displayName: "Eng2" }],
    ["Okta: rename (id ignored)", okta, [{ op: "replace", value: { id: "abf4dd94", displayName: "Eng2" } }], [], { displayName: "Eng2" }],
    ["Okta: membership update", okta, [
      { op: "replace", value: { id: "abf4dd94", displayName: "Engineering" } },
      { op: "remove", path: 'members[value eq "u1"]' },
      { op: "add", path: "members", value: [{ value: "u2", display: "bob@example.com" }] },
    ], [{ op: "remove", ids: ["u1"] }, { op: "add", members: [{ value: "u2" }] }]],
    ["Okta: push of an empty group", okta, [{ op: "replace", path: "members", value: [] }], [{ op: "removeAll" }]],
    ["PingFederate: add members", pingfed, [{ op: "add", path: "members", value: [{ value: "u1" }, { value: "u2" }] }], [{ op: "add", members: [{ value: "u1" }, { value: "u2" }] }]],
    ["PingFederate: remove members", pingfed, [{ op: "remove", path: 'members[value eq "u1"]' }], [{ op: "remove", ids: ["u1"] }]],
    ["PingFederate: overwrite memberships", pingfed, [{ op: "replace", path: "members", value: [{ value: "u1" }] }], [{ op: "removeAll" }, { op: "add", members: [{ value: "u1" }] }]],
    ["PingFederate: path-less replace of name and members", pingfed, [{ op: "replace", value: { displayName: "CN=Eng", members: [{ value: "u1" }] } }], [{ op: "removeAll" }, { op: "add", members: [{ value: "u1" }] }], { displayName: "CN=Eng" }],
  ])("%s (%s)", (_name, _source, ops, memberOps, attrs = {}) => {
    expect(patchGroup(...ops)).toEqual({ attributes: { ...eng, ...attrs }, memberOps });
  });

  it("Entra: empty Operations", () => {
    expect(applyPatch(registry, "Group", eng, { schemas: [PATCH_OP_URN], Operations: [] })).toEqual({ attributes: eng, memberOps: [] });
  });
});

describe("simple multi-valued attribute of a custom extension", () => {
  const EXT = "urn:example:params:scim:schemas:extension:acme:1.0:User";
  const custom = new SchemaRegistry([
    { schema: EXT, name: "Acme", resource: "User", required: false, attributes: [{ name: "tags", type: "string", multiValued: true }] },
  ]);
  const bob = deepFreeze({ userName: "bob", [EXT]: { tags: ["a", "b"] } });
  it.each<[string, Op[], unknown]>([
    ["add appends, de-duplicated", [{ op: "add", path: `${EXT}:tags`, value: ["b", "c"] }], ["a", "b", "c"]],
    ["remove by value filter (value names the element)", [{ op: "remove", path: `${EXT}:tags[value eq "a"]` }], ["b"]],
    ["replace whole list", [{ op: "replace", path: `${EXT}:tags`, value: ["z"] }], ["z"]],
    ["path-less extension object", [{ op: "add", value: { [EXT]: { tags: "c" } } }], ["a", "b", "c"]],
  ])("%s", (_name, ops, tags) => {
    expect(applyPatch(custom, "User", bob, body(...ops)).attributes).toEqual({ userName: "bob", [EXT]: { tags } });
  });

  it("removing the last value unassigns the extension", () => {
    const r = applyPatch(custom, "User", bob, body({ op: "remove", path: `${EXT}:tags[value eq "a" or value eq "b"]` }));
    expect(r.attributes).toEqual({ userName: "bob" });
  });
});
