// coerceInput: RFC 7643 §2 typing and the IdP dialects in idp-traffic.md §3-§5 (vendor URLs inline).
import { describe, expect, it } from "vitest";
import { coerceInput, type CoerceMode } from "../../schemas/coerce.js";
import { ScimError } from "../../schemas/errors.js";
import { attributeFromConfig, CORE_GROUP, CORE_USER, ENTERPRISE_USER as ENT, SchemaRegistry, type ExtensionConfig } from "../../schemas/registry.js";

const ACME = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";
const ACME_REQ = "urn:ietf:params:scim:schemas:extension:acmereq:2.0:User";
const ADSCIM_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";

const acme: ExtensionConfig = {
  schema: ACME,
  name: "Acme",
  resource: "User",
  required: false,
  attributes: [
    { name: "badge", type: "string", required: true },
    { name: "clearance", type: "integer" },
    { name: "score", type: "decimal" },
    { name: "hiredAt", type: "dateTime" },
    { name: "vip", type: "boolean" },
    { name: "avatar", type: "binary" },
    { name: "homepage", type: "reference" },
    { name: "serverNote", type: "string", mutability: "readOnly" },
    { name: "employeeKey", type: "string", mutability: "immutable" },
    { name: "tags", type: "string", multiValued: true },
    {
      name: "desk",
      type: "complex",
      subAttributes: [attributeFromConfig({ name: "building", type: "string", required: true }), attributeFromConfig({ name: "floor", type: "integer" })],
    },
  ],
};
const plain = new SchemaRegistry();
const custom = new SchemaRegistry([acme]);
const strict = new SchemaRegistry([
  { schema: ACME_REQ, name: "AcmeReq", resource: "User", required: true, attributes: [{ name: "costCode", type: "string", required: true }] },
]);

const user = (extra: Record<string, unknown> = {}) => ({ schemas: [CORE_USER], userName: "bjensen", ...extra });
const attrsOf = (body: unknown, reg = plain) => coerceInput(reg, "User", body, "create").attributes;

function scimError(fn: () => unknown): ScimError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ScimError) return e;
    throw e;
  }
  throw new Error("expected a ScimError");
}
const expectError = (fn: () => unknown, scimType: string, detail: string) => {
  const e = scimError(fn);
  expect([e.status, e.scimType]).toEqual([400, scimType]);
  expect(e.detail).toContain(detail);
};

describe("body shape", () => {
  it.each([
    ["null", null],
    ["array", [{ userName: "x" }]],
    ["string", "userName=x"],
    ["number", 3],
  ])("%s body: 400 invalidSyntax", (_n, body) => {
    expectError(() => coerceInput(plain, "User", body, "create"), "invalidSyntax", "JSON object");
  });

  it.each<[string, unknown, string[]]>([
    ["as sent, unknown URNs included", [CORE_USER, "urn:example:unknown"], [CORE_USER, "urn:example:unknown"]],
    ["absent", undefined, []],
    ["null", null, []],
    ["a lone string", CORE_USER, [CORE_USER]],
  ])("schemasSent: %s", (_n, schemas, expected) => {
    expect(coerceInput(plain, "User", { schemas, userName: "x" }, "create").schemasSent).toEqual(expected);
  });

  it.each([[{ a: 1 }], [[CORE_USER, 3]]])("schemas %j: 400 invalidSyntax", (schemas) => {
    expectError(() => coerceInput(plain, "User", { schemas, userName: "x" }, "create"), "invalidSyntax", "schemas");
  });
});

describe("attribute names (RFC 7643 §2.1: case-insensitive, stored canonical)", () => {
  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    [
      "core and sub-attribute names",
      { USERNAME: "b", Name: { GIVENNAME: "B" }, EMAILS: [{ VALUE: "b@x", Type: "work", PRIMARY: true }], DisplayName: "B J" },
      { userName: "b", name: { givenName: "B" }, emails: [{ value: "b@x", type: "work", primary: true }], displayName: "B J" },
    ],
    ["extension URN key", { userName: "b", [ENT.toUpperCase()]: { EmployeeNumber: "7" } }, { userName: "b", [ENT]: { employeeNumber: "7" } }],
    [
      "URN-qualified extension attributes fold into the extension object",
      { userName: "b", [ENT]: { department: "R&D" }, [`${ENT}:employeeNumber`]: "1", [`${ENT.toLowerCase()}:MANAGER.value`]: "m-1" },
      { userName: "b", [ENT]: { department: "R&D", employeeNumber: "1", manager: { value: "m-1" } } },
    ],
    ["URN-qualified core attribute", { [`${CORE_USER}:userName`]: "b", [`${CORE_USER}:name.familyName`]: "J" }, { userName: "b", name: { familyName: "J" } }],
    ["dotted sub-attribute key", { userName: "b", "name.givenName": "B", "NAME.familyName": "J" }, { userName: "b", name: { givenName: "B", familyName: "J" } }],
  ])("%s", (_n, body, expected) => {
    expect(attrsOf(body)).toEqual(expected);
  });
});

describe("types (RFC 7643 §2.3)", () => {
  it.each<[string, string, unknown, unknown]>([
    ["string", "badge", "B-1", "B-1"],
    ["integer", "clearance", 3, 3],
    ["decimal", "score", 2.5, 2.5],
    ["decimal accepts an integer", "score", 2, 2],
    ["boolean", "vip", false, false],
    ["dateTime Z", "hiredAt", "2024-01-31T09:30:00Z", "2024-01-31T09:30:00.000Z"],
    ["dateTime offset normalised to UTC", "hiredAt", "2024-01-31T10:30:00+01:00", "2024-01-31T09:30:00.000Z"],
    ["dateTime fraction, lower-case t/z", "hiredAt", "2024-01-31t09:30:00.5z", "2024-01-31T09:30:00.500Z"],
    ["dateTime leap day", "hiredAt", "2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000Z"],
    ["binary", "avatar", "aGVsbG8=", "aGVsbG8="],
    ["binary with line breaks", "avatar", "aGVs\nbG8=", "aGVs\nbG8="],
    ["reference", "homepage", "https://example.com/u/1", "https://example.com/u/1"],
    ["multi-valued string", "tags", ["a", "b"], ["a", "b"]],
    ["a lone value for a multi-valued attribute is wrapped", "tags", "a", ["a"]],
    ["complex", "desk", { building: "HQ", floor: 3 }, { building: "HQ", floor: 3 }],
  ])("%s", (_n, name, value, stored) => {
    expect(attrsOf(user({ [ACME]: { badge: "B-1", [name]: value } }), custom)[ACME]).toMatchObject({ [name]: stored });
  });

  it("a lone object for a multi-valued complex attribute is wrapped", () => {
    expect(attrsOf(user({ emails: { value: "b@x", type: "work" } })).emails).toEqual([{ value: "b@x", type: "work" }]);
  });

  const A = (name: string) => `${ACME}:${name}`;
  it.each<[string, Record<string, unknown>, string]>([
    ["userName number", { userName: 12 }, '"userName": expected a string, got a number'],
    ["active not a boolean word", { active: "maybe" }, '"active": expected a boolean'],
    ["active number", { active: 1 }, '"active": expected a boolean'],
    ["emails element not complex", { emails: [3] }, '"emails[0]": expected a complex value'],
    ["emails primary", { emails: [{ value: "a@x" }, { value: "b@x", primary: "yes" }] }, '"emails[1].primary": expected a boolean'],
    ["name not complex", { name: "Barbara" }, '"name": expected a complex value'],
    ["single-valued given an array", { displayName: ["a", "b"] }, '"displayName": expected a string (single-valued), got an array'],
    ["extension object not an object", { [ENT]: "x" }, `"${ENT}": expected a complex value`],
    ["manager number", { [ENT]: { manager: 5 } }, `"${ENT}:manager": expected a complex value`],
    ["integer as string", { [ACME]: { badge: "b", clearance: "high" } }, `"${A("clearance")}": expected an integer, got a string`],
    ["integer with a fraction", { [ACME]: { badge: "b", clearance: 1.5 } }, `"${A("clearance")}": expected an integer`],
    ["decimal as string", { [ACME]: { badge: "b", score: "1" } }, `"${A("score")}": expected a number`],
    ["dateTime impossible date", { [ACME]: { badge: "b", hiredAt: "2023-02-29T00:00:00Z" } }, `"${A("hiredAt")}": "2023-02-29T00:00:00Z" is not a dateTime`],
    ["dateTime date only", { [ACME]: { badge: "b", hiredAt: "2024-01-31" } }, `"${A("hiredAt")}": expected a dateTime (RFC 3339`],
    ["dateTime without offset", { [ACME]: { badge: "b", hiredAt: "2024-01-31T09:30:00" } }, `"${A("hiredAt")}": expected a dateTime`],
    ["dateTime hour 24", { [ACME]: { badge: "b", hiredAt: "2024-01-31T24:00:00Z" } }, `"${A("hiredAt")}"`],
    ["dateTime number", { [ACME]: { badge: "b", hiredAt: 1706693400 } }, `"${A("hiredAt")}": expected a dateTime`],
    ["binary not base64", { [ACME]: { badge: "b", avatar: "not base64!" } }, `"${A("avatar")}": expected a base64-encoded string`],
    ["reference number", { [ACME]: { badge: "b", homepage: 5 } }, `"${A("homepage")}": expected a reference`],
    ["multi-valued element", { [ACME]: { badge: "b", tags: ["a", 1] } }, `"${A("tags")}[1]": expected a string`],
    ["complex sub-attribute", { [ACME]: { badge: "b", desk: { building: "HQ", floor: "3" } } }, `"${A("desk")}.floor": expected an integer`],
    ["x509 value not base64", { x509Certificates: [{ value: "%%%" }] }, '"x509Certificates[0].value": expected a base64-encoded string'],
  ])("%s: 400 invalidValue naming path and type", (_n, extra, detail) => {
    expectError(() => coerceInput(custom, "User", user(extra), "create"), "invalidValue", detail);
  });
});

describe("required attributes", () => {
  it.each<[string, SchemaRegistry, "User" | "Group", Record<string, unknown>, CoerceMode, string]>([
    ["userName missing", plain, "User", { schemas: [CORE_USER], name: { givenName: "x" } }, "create", '"userName" is required'],
    ["userName empty", plain, "User", { userName: "" }, "create", '"userName" is required and must not be empty'],
    ["userName null", plain, "User", { userName: null }, "create", '"userName" is required'],
    ["userName missing on PUT cites RFC 7644 §3.5.1", plain, "User", { displayName: "x" }, "replace", "RFC 7644 §3.5.1"],
    ["Group displayName missing", plain, "Group", { schemas: [CORE_GROUP], members: [] }, "create", '"displayName" is required'],
    ["required attribute of a sent optional extension", custom, "User", user({ [ACME]: { clearance: 1 } }), "create", `"${ACME}:badge" is required`],
    ["required attribute of a required extension", strict, "User", user(), "create", `"${ACME_REQ}:costCode" is required`],
    ["required sub-attribute", custom, "User", user({ [ACME]: { badge: "b", desk: { floor: 2 } } }), "create", `"${ACME}:desk.building" is required`],
  ])("%s: 400 invalidValue", (_n, reg, kind, body, mode, detail) => {
    expectError(() => coerceInput(reg, kind, body, mode), "invalidValue", detail);
  });

  it.each<[string, SchemaRegistry, Record<string, unknown>]>([
    ["optional extension not sent", custom, user()],
    ["optional extension sent empty", custom, user({ [ACME]: {} })],
    ["required extension satisfied by a URN-qualified key", strict, user({ [`${ACME_REQ}:costCode`]: "CC" })],
  ])("%s: accepted", (_n, reg, body) => {
    expect(() => coerceInput(reg, "User", body, "create")).not.toThrow();
  });
});

describe("mutability (RFC 7644 §3.5.1: readOnly input is ignored)", () => {
  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    ["id, meta, groups", { id: "x", meta: { resourceType: "User", version: 'W/"1"' }, groups: [{ value: "g1", display: "G" }] }, {}],
    ["manager.displayName", { [ENT]: { manager: { value: "m-1", displayName: "Boss" } } }, { [ENT]: { manager: { value: "m-1" } } }],
    ["readOnly extension attribute", { [ACME]: { badge: "b", serverNote: "x" } }, { [ACME]: { badge: "b" } }],
    ["immutable is accepted (the route compares)", { [ACME]: { badge: "b", employeeKey: "K1" } }, { [ACME]: { badge: "b", employeeKey: "K1" } }],
  ])("%s", (_n, extra, expected) => {
    expect(attrsOf(user(extra), custom)).toEqual({ userName: "bjensen", ...expected });
  });
});

describe("unknown attributes are dropped", () => {
  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    ["top-level", { favouriteColour: "blue" }, {}],
    ["inside a declared extension", { [ENT]: { department: "R&D", shoeSize: 44 } }, { [ENT]: { department: "R&D" } }],
    ["undeclared extension object", { "urn:example:params:scim:schemas:extension:other:2.0:User": { a: 1 } }, {}],
    ["unknown URN-qualified key", { [`${ENT}:shoeSize`]: 44 }, {}],
    ["unknown sub-attribute", { name: { givenName: "B", nickname: "Babs" } }, { name: { givenName: "B" } }],
    ["members on a User", { members: [{ value: "x" }] }, {}],
  ])("%s", (_n, extra, expected) => {
    expect(attrsOf(user(extra))).toEqual({ userName: "bjensen", ...expected });
  });
});

describe("dialect tolerance", () => {
  // Entra without aadOptscim062020 sends "True"/"False" strings:
  // https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility
  it.each([
    ["True", true],
    ["False", false],
    ["true", true],
    ["false", false],
    ["FALSE", false],
    [true, true],
  ])("active %j → %j", (sent, stored) => {
    expect(attrsOf(user({ active: sent })).active).toBe(stored);
  });

  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    // Entra: "manager":"123456" (https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups)
    ["Entra manager as a bare string", { [ENT]: { manager: "123456" } }, { [ENT]: { manager: { value: "123456" } } }],
    ["manager with $ref null", { [ENT]: { manager: { value: "m", $ref: null } } }, { [ENT]: { manager: { value: "m" } } }],
    ["manager empty string is absent", { [ENT]: { manager: "", department: "D" } }, { [ENT]: { department: "D" } }],
    // RFC 7643 §2.3.1: canonicalValues are not enforced; types are kept as sent.
    ["email type Work kept as sent", { emails: [{ value: "a@x", type: "Work" }] }, { emails: [{ value: "a@x", type: "Work" }] }],
    [
      "Entra app role type",
      { roles: [{ value: "Admin", type: "WindowsAzureActiveDirectoryRole", primary: "False", display: "Admin" }] },
      { roles: [{ value: "Admin", type: "WindowsAzureActiveDirectoryRole", primary: false, display: "Admin" }] },
    ],
    ["x509Certificates any type", { x509Certificates: [{ value: "TUlJQg==", type: "signing" }] }, { x509Certificates: [{ value: "TUlJQg==", type: "signing" }] }],
    ["entitlements any type", { entitlements: [{ value: "e1", type: "license" }] }, { entitlements: [{ value: "e1", type: "license" }] }],
    ["phone type outside the canonical list", { phoneNumbers: [{ value: "+1 555", type: "Mobile Phone" }] }, { phoneNumbers: [{ value: "+1 555", type: "Mobile Phone" }] }],
    // RFC 7643 §2.5: null and [] are unassigned.
    ["null values", { title: null, name: { givenName: "B", familyName: null } }, { name: { givenName: "B" } }],
    ["$ref null inside a multi-valued element", { photos: [{ value: "https://x/p.jpg", $ref: null }] }, { photos: [{ value: "https://x/p.jpg" }] }],
    ["empty arrays", { roles: [], emails: [] }, {}],
    ["primary as a string boolean", { emails: [{ value: "a@x", primary: "True" }] }, { emails: [{ value: "a@x", primary: true }] }],
    // Empty strings are absent (PingFederate cannot clear; others send "").
    ["empty optional strings", { title: "", name: { givenName: "", familyName: "" }, [ENT]: { department: "" } }, {}],
    ["an all-empty complex value is absent", { name: { givenName: "", familyName: null } }, {}],
  ])("%s", (_n, extra, expected) => {
    expect(attrsOf(user(extra))).toEqual({ userName: "bjensen", ...expected });
  });

  // RFC 7643 §2.4 allows one primary; PingFederate may mark two (pf_scim_connector_known_issues_and_limitations.html).
  it.each<[string, unknown[], unknown[]]>([
    [
      "two primaries: the first wins",
      [{ value: "a@x", type: "work", primary: true }, { value: "b@x", type: "home", primary: true }],
      [{ value: "a@x", type: "work", primary: true }, { value: "b@x", type: "home", primary: false }],
    ],
    [
      "string and boolean primaries count alike",
      [{ value: "a@x", primary: "false" }, { value: "b@x", primary: "True" }, { value: "c@x", primary: true }, { value: "d@x" }],
      [{ value: "a@x", primary: false }, { value: "b@x", primary: true }, { value: "c@x", primary: false }, { value: "d@x" }],
    ],
    [
      "an emptied element does not keep primary from the real one",
      [{ value: "", type: "home", primary: true }, { value: "a@x", type: "work", primary: true }],
      [{ value: "a@x", type: "work", primary: true }],
    ],
  ])("%s", (_n, emails, expected) => {
    expect(attrsOf(user({ emails })).emails).toEqual(expected);
  });
});

describe("password", () => {
  it("is extracted and never left in the attributes", () => {
    const r = coerceInput(plain, "User", user({ PassWord: "S3cret!" }), "create");
    expect(r.password).toBe("S3cret!");
    expect(JSON.stringify(r.attributes)).not.toContain("S3cret");
  });

  it.each([[null], [""], [undefined]])("%j is no password", (pw) => {
    expect(coerceInput(plain, "User", user({ password: pw }), "create").password).toBeUndefined();
  });

  it("must be a string: 400 invalidValue, value not echoed", () => {
    const e = scimError(() => coerceInput(plain, "User", user({ password: 123456 }), "create"));
    expect([e.status, e.scimType, e.detail]).toEqual([400, "invalidValue", 'Attribute "password": expected a string, got a number']);
  });

  it("is not an attribute of a Group", () => {
    const r = coerceInput(plain, "Group", { displayName: "G", password: "x" }, "create");
    expect(r).toEqual({ attributes: { displayName: "G" }, schemasSent: [] });
  });
});

describe("group members", () => {
  const group = (members: unknown) => coerceInput(plain, "Group", { schemas: [CORE_GROUP], displayName: "G", members }, "replace");

  it.each<[string, unknown, unknown]>([
    ["value only", [{ value: "u1" }], [{ value: "u1" }]],
    ["type canonicalised", [{ value: "u1", type: "user" }, { value: "g1", TYPE: "GROUP" }], [{ value: "u1", type: "User" }, { value: "g1", type: "Group" }]],
    ["display and $ref ignored (Okta, Entra)", [{ value: "u1", display: "Alice", $ref: null }, { Value: "u2", $ref: "https://x/Users/u2" }], [{ value: "u1" }, { value: "u2" }]],
    ["empty list clears", [], []],
    ["null clears (RFC 7643 §2.5 unassigned)", null, []],
    ["a lone member object", { value: "u1" }, [{ value: "u1" }]],
    ["empty type is no type", [{ value: "u1", type: "" }], [{ value: "u1" }]],
  ])("%s", (_n, members, expected) => {
    const r = group(members);
    expect(r.members).toEqual(expected);
    expect(r.attributes).toEqual({ displayName: "G" });
  });

  it("absent members stay undefined (the PUT does not assert membership)", () => {
    expect(coerceInput(plain, "Group", { displayName: "G" }, "replace").members).toBeUndefined();
  });

  it.each<[string, unknown, string]>([
    ["missing value", [{ value: "u1" }, { display: "Bob" }], '"members[1].value" is required'],
    ["empty value", [{ value: "" }], '"members[0].value" is required'],
    ["value not a string", [{ value: 7 }], '"members[0].value": expected a string'],
    ["member not an object", ["u1"], '"members[0]": expected a complex value'],
    ["unknown type", [{ value: "u1", type: "Robot" }], '"members[0].type": expected "User" or "Group"'],
  ])("%s: 400 invalidValue", (_n, members, detail) => {
    expectError(() => group(members), "invalidValue", detail);
  });
});

describe("request shapes from the identity providers", () => {
  it("Entra POST /Users: meta and roles:[] ignored, enterprise listed but not sent", () => {
    // https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups (Create User)
    const body = {
      schemas: [CORE_USER, ENT],
      externalId: "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
      userName: "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
      active: true,
      emails: [{ primary: true, type: "work", value: "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com" }],
      meta: { resourceType: "User" },
      name: { formatted: "givenName familyName", familyName: "familyName", givenName: "givenName" },
      roles: [],
    };
    expect(coerceInput(plain, "User", body, "create")).toEqual({
      attributes: {
        externalId: "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        userName: "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
        active: true,
        emails: [{ primary: true, type: "work", value: "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com" }],
        name: { formatted: "givenName familyName", familyName: "familyName", givenName: "givenName" },
      },
      schemasSent: [CORE_USER, ENT],
    });
  });

  it("Entra POST /Groups: ADSCIM schema URN accepted, meta ignored, no members", () => {
    // Same Entra tutorial, Create Group.
    const body = { schemas: [CORE_GROUP, ADSCIM_GROUP], externalId: "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", displayName: "displayName", meta: { resourceType: "Group" } };
    expect(coerceInput(plain, "Group", body, "create")).toEqual({
      attributes: { externalId: "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", displayName: "displayName" },
      schemasSent: [CORE_GROUP, ADSCIM_GROUP],
    });
  });

  it("Okta POST /Users: groups:[] dropped, password extracted", () => {
    // https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/ (Create the user)
    const body = {
      schemas: [CORE_USER],
      userName: "test.user@okta.local",
      name: { givenName: "Test", familyName: "User" },
      emails: [{ primary: true, value: "test.user@okta.local", type: "work" }],
      displayName: "Test User",
      locale: "en-US",
      externalId: "00ujl29u0le5T6Aj10h7",
      groups: [],
      password: "1mz050nq",
      active: true,
    };
    const { groups: _g, password: _p, schemas: _s, ...rest } = body;
    expect(coerceInput(plain, "User", body, "create")).toEqual({ attributes: rest, password: "1mz050nq", schemasSent: [CORE_USER] });
  });

  it("Okta PUT /Users/{id}: the whole object it read, id/groups/meta ignored", () => {
    // Same Okta guide, Update a specific User (PUT): Okta GETs, then PUTs the object back.
    const body = {
      schemas: [CORE_USER],
      id: "23a35c27-23d3-4c03-b4c5-6443c09e7173",
      userName: "test.user@okta.local",
      name: { givenName: "Another", familyName: "User" },
      emails: [{ primary: true, value: "test.user@okta.local", type: "work" }],
      active: false,
      groups: [{ value: "g-1", display: "Everyone", $ref: "https://sp/Groups/g-1", type: "direct" }],
      meta: { resourceType: "User", created: "2024-01-31T09:30:00.000Z", lastModified: "2024-01-31T09:30:00.000Z", location: "https://sp/Users/23a35c27", version: '"1"' },
    };
    expect(coerceInput(plain, "User", body, "replace").attributes).toEqual({
      userName: "test.user@okta.local",
      name: { givenName: "Another", familyName: "User" },
      emails: [{ primary: true, value: "test.user@okta.local", type: "work" }],
      active: false,
    });
  });

  it("Okta POST /Groups with members:[]", () => {
    const r = coerceInput(plain, "Group", { schemas: [CORE_GROUP], displayName: "Test SCIMv2", members: [] }, "create");
    expect(r).toEqual({ attributes: { displayName: "Test SCIMv2" }, members: [], schemasSent: [CORE_GROUP] });
  });

  it("PingFederate POST /Users: work+home emails both primary, enterprise attributes", () => {
    // Fields per https://docs.pingidentity.com/integrations/scim/setup/pf_scim_connector_supported_attributes_reference.html;
    // the double primary per pf_scim_connector_known_issues_and_limitations.html.
    const body = {
      schemas: [CORE_USER, ENT],
      userName: "jsmith",
      externalId: "3f1c9a2e-5b7d-4e8f-9a0b-1c2d3e4f5a6b",
      name: { givenName: "John", familyName: "Smith", formatted: "John Smith" },
      emails: [
        { type: "work", value: "jsmith@example.com", primary: true },
        { type: "home", value: "john@home.example", primary: true },
      ],
      phoneNumbers: [{ type: "work", value: "+1 555 0100" }],
      active: true,
      title: "",
      [ENT]: { employeeNumber: "1001", department: "Engineering", manager: { value: "9b2c" } },
    };
    expect(coerceInput(plain, "User", body, "create").attributes).toEqual({
      userName: "jsmith",
      externalId: "3f1c9a2e-5b7d-4e8f-9a0b-1c2d3e4f5a6b",
      name: { givenName: "John", familyName: "Smith", formatted: "John Smith" },
      emails: [
        { type: "work", value: "jsmith@example.com", primary: true },
        { type: "home", value: "john@home.example", primary: false },
      ],
      phoneNumbers: [{ type: "work", value: "+1 555 0100" }],
      active: true,
      [ENT]: { employeeNumber: "1001", department: "Engineering", manager: { value: "9b2c" } },
    });
  });

  it("PingFederate PUT /Groups/{id}: displayName and the full member list", () => {
    const r = coerceInput(plain, "Group", { schemas: [CORE_GROUP], displayName: "Engineering", members: [{ value: "u1" }, { value: "u2" }] }, "replace");
    expect(r).toEqual({ attributes: { displayName: "Engineering" }, members: [{ value: "u1" }, { value: "u2" }], schemasSent: [CORE_GROUP] });
  });
});

describe("idempotence (PATCH re-coerces stored attributes)", () => {
  it.each<[string, Record<string, unknown>]>([
    ["dates, primaries, extensions", { [ACME]: { badge: "b", hiredAt: "2024-01-31T10:30:00+01:00", tags: "x" }, emails: [{ value: "a@x", primary: true }, { value: "b@x", primary: true }], [ENT]: { manager: "m" } }],
    ["string booleans", { active: "False", emails: { value: "a@x", primary: "true" } }],
  ])("%s", (_n, extra) => {
    const once = attrsOf(user(extra), custom);
    expect(coerceInput(custom, "User", { ...once, schemas: undefined }, "replace").attributes).toEqual(once);
  });

  it("does not mutate the body", () => {
    const body = user({ emails: [{ value: "a@x", primary: true }, { value: "b@x", primary: true }] });
    const copy = structuredClone(body);
    attrsOf(body);
    expect(body).toEqual(copy);
  });
});
