// projectResource / parseAttributeList: RFC 7644 §3.9 and RFC 7643 §2.4/§7 `returned`;
// normaliseMultiValuedForOutput: PingFederate needs type/primary echoed
// (https://docs.pingidentity.com/integrations/scim/release_notes/pf_scim_connector_known_issues_and_limitations.html).
import { describe, expect, it } from "vitest";
import { emptyExtensionsPruned, normaliseMultiValuedForOutput, parseAttributeList, projectResource, type ProjectionOptions } from "../../schemas/project.js";
import { attributeFromConfig, CORE_GROUP, CORE_USER, ENTERPRISE_USER as ENT, SchemaRegistry } from "../../schemas/registry.js";

const ACME = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";
const registry = new SchemaRegistry([
  {
    schema: ACME,
    name: "Acme",
    resource: "User",
    required: false,
    attributes: [
      { name: "badge", type: "string" },
      { name: "audit", type: "string", returned: "request" },
      { name: "pin", type: "string", mutability: "writeOnly", returned: "never" },
      { name: "serial", type: "string", returned: "always" },
      {
        name: "keys",
        type: "complex",
        multiValued: true,
        subAttributes: [
          attributeFromConfig({ name: "value", type: "string" }),
          attributeFromConfig({ name: "type", type: "string" }),
          attributeFromConfig({ name: "primary", type: "boolean" }),
        ],
      },
    ],
  },
]);

const meta = { resourceType: "User", created: "2024-01-31T09:30:00.000Z", lastModified: "2024-01-31T09:30:00.000Z", location: "https://sp/Users/u1", version: '"1"' };
const fullUser = (): Record<string, unknown> => ({
  schemas: [CORE_USER, ENT, ACME],
  id: "u1",
  externalId: "ext-1",
  meta: { ...meta },
  userName: "bjensen",
  name: { givenName: "Barbara", familyName: "Jensen" },
  active: true,
  password: "never-shown",
  emails: [
    { value: "b@work", type: "work", primary: true },
    { value: "b@home", type: "home", primary: false },
  ],
  groups: [{ value: "g1", $ref: "https://sp/Groups/g1", display: "Eng", type: "direct" }],
  [ENT]: { employeeNumber: "42", department: "R&D", manager: { value: "m1", $ref: "https://sp/Users/m1", displayName: "Boss" } },
  [ACME]: { badge: "B-1", audit: "seen", pin: "1234" },
});
const group = (): Record<string, unknown> => ({
  schemas: [CORE_GROUP],
  id: "g1",
  meta: { ...meta, resourceType: "Group" },
  displayName: "Eng",
  members: [{ value: "u1", $ref: "https://sp/Users/u1", type: "User", display: "Barbara" }],
});

describe("parseAttributeList", () => {
  it.each<[string, string | string[] | undefined, string[] | undefined]>([
    ["absent", undefined, undefined],
    ["empty", "", undefined],
    ["only commas and spaces", " , ,", undefined],
    ["one", "userName", ["userName"]],
    ["comma-separated, trimmed", " userName , emails.value ", ["userName", "emails.value"]],
    ["URN-qualified names keep their colons", `${ENT}:manager.value,${ACME}`, [`${ENT}:manager.value`, ACME]],
    ["repeated parameter merged", ["userName,name", "emails"], ["userName", "name", "emails"]],
  ])("%s", (_n, param, expected) => {
    expect(parseAttributeList(param)).toEqual(expected);
  });
});

describe("projectResource: defaults and returned (RFC 7643 §7)", () => {
  it("no parameters: everything but returned=never and returned=request", () => {
    const out = projectResource(registry, "User", fullUser(), {});
    const expected = fullUser();
    delete expected.password;
    expected[ACME] = { badge: "B-1" };
    expect(out).toEqual(expected);
  });

  it("does not mutate its input", () => {
    const input = fullUser();
    projectResource(registry, "User", input, { attributes: ["emails.value"], excludedAttributes: ["name"] });
    expect(input).toEqual(fullUser());
  });
});

describe("projectResource: attributes (RFC 7644 §3.9)", () => {
  it.each<[string, string[], Record<string, unknown>]>([
    ["one attribute: id and schemas kept, meta and unused extensions dropped", ["userName"], { schemas: [CORE_USER], id: "u1", userName: "bjensen" }],
    ["names are case-insensitive", ["USERNAME"], { schemas: [CORE_USER], id: "u1", userName: "bjensen" }],
    [
      "sub-attribute of a multi-valued attribute",
      ["emails.value"],
      { schemas: [CORE_USER], id: "u1", emails: [{ value: "b@work" }, { value: "b@home" }] },
    ],
    ["sub-attribute of a complex attribute", ["name.GIVENNAME"], { schemas: [CORE_USER], id: "u1", name: { givenName: "Barbara" } }],
    ["two sub-attributes", ["emails.value", "emails.type"], {
      schemas: [CORE_USER], id: "u1", emails: [{ value: "b@work", type: "work" }, { value: "b@home", type: "home" }],
    }],
    ["meta when asked", ["meta"], { schemas: [CORE_USER], id: "u1", meta }],
    ["meta sub-attribute", ["meta.created"], { schemas: [CORE_USER], id: "u1", meta: { created: meta.created } }],
    ["URN-qualified extension attribute", [`${ENT}:employeeNumber`], { schemas: [CORE_USER, ENT], id: "u1", [ENT]: { employeeNumber: "42" } }],
    ["URN-qualified extension sub-attribute", [`${ENT.toLowerCase()}:manager.value`], { schemas: [CORE_USER, ENT], id: "u1", [ENT]: { manager: { value: "m1" } } }],
    ["bare extension URN selects the extension", [ENT], { schemas: [CORE_USER, ENT], id: "u1", [ENT]: fullUser()[ENT] as object }],
    ["URN-qualified core attribute", [`${CORE_USER}:userName`], { schemas: [CORE_USER], id: "u1", userName: "bjensen" }],
    ["returned=never is never output", ["password", `${ACME}:pin`], { schemas: [CORE_USER], id: "u1" }],
    ["returned=request when named", [`${ACME}:audit`], { schemas: [CORE_USER, ACME], id: "u1", [ACME]: { audit: "seen" } }],
    ["returned=request not via its schema URN", [ACME], { schemas: [CORE_USER, ACME], id: "u1", [ACME]: { badge: "B-1" } }],
    ["unknown names are ignored", ["shoeSize", "urn:x:y:z"], { schemas: [CORE_USER], id: "u1" }],
    ["groups", ["groups.display"], { schemas: [CORE_USER], id: "u1", groups: [{ display: "Eng" }] }],
  ])("%s", (_n, attributes, expected) => {
    expect(projectResource(registry, "User", fullUser(), { attributes })).toEqual(expected);
  });

  it("returned=always is output whatever was asked, and keeps its extension listed", () => {
    const r = { ...fullUser(), [ACME]: { badge: "B-1", serial: "S-9" } };
    expect(projectResource(registry, "User", r, { attributes: ["userName"] })).toEqual({
      schemas: [CORE_USER, ACME],
      id: "u1",
      userName: "bjensen",
      [ACME]: { serial: "S-9" },
    });
  });

  it("the core schema URN selects the core attributes", () => {
    const out = projectResource(registry, "User", fullUser(), { attributes: [CORE_USER] });
    expect(Object.keys(out).sort()).toEqual(["active", "emails", "externalId", "groups", "id", "meta", "name", "schemas", "userName"].sort());
  });

  it("elements left without selected sub-attributes are dropped", () => {
    const r = { ...fullUser(), emails: [{ value: "a@x" }, { type: "home" }] };
    expect(projectResource(registry, "User", r, { attributes: ["emails.value"] }).emails).toEqual([{ value: "a@x" }]);
  });
});

describe("projectResource: excludedAttributes (RFC 7644 §3.9)", () => {
  const base = () => projectResource(registry, "User", fullUser(), {});
  const without = (mutate: (r: Record<string, unknown>) => void) => {
    const r = base();
    mutate(r);
    return r;
  };
  it.each<[string, string[], Record<string, unknown>]>([
    ["attributes", ["emails", "NAME"], without((r) => { delete r.emails; delete r.name; })],
    ["id and schemas are never excluded", ["id", "schemas"], base()],
    ["meta", ["meta"], without((r) => { delete r.meta; })],
    ["a sub-attribute", ["emails.type"], without((r) => { r.emails = [{ value: "b@work", primary: true }, { value: "b@home", primary: false }]; })],
    ["a whole extension, and its URN from schemas", [ENT], without((r) => { delete r[ENT]; r.schemas = [CORE_USER, ACME]; })],
    ["one extension attribute", [`${ENT}:department`], without((r) => { r[ENT] = { employeeNumber: "42", manager: (fullUser()[ENT] as Record<string, unknown>).manager }; })],
    [
      "every attribute of an extension: the empty object and its URN go",
      [`${ENT}:employeeNumber`, `${ENT}:department`, `${ENT}:manager`],
      without((r) => { delete r[ENT]; r.schemas = [CORE_USER, ACME]; }),
    ],
    ["unknown names are ignored", ["shoeSize"], base()],
  ])("%s", (_n, excludedAttributes, expected) => {
    expect(projectResource(registry, "User", fullUser(), { excludedAttributes })).toEqual(expected);
  });

  it("returned=always is not excluded", () => {
    const r = { ...fullUser(), [ACME]: { badge: "B-1", serial: "S-9" } };
    expect(projectResource(registry, "User", r, { excludedAttributes: [ACME, "id"] })[ACME]).toEqual({ serial: "S-9" });
    expect(projectResource(registry, "User", r, { excludedAttributes: [`${ACME}:serial`, "id"] })).toMatchObject({ id: "u1", [ACME]: { badge: "B-1", serial: "S-9" } });
  });

  it("both lists: attributes selects, excludedAttributes then removes", () => {
    const opts: ProjectionOptions = { attributes: ["emails", "userName"], excludedAttributes: ["emails.primary"] };
    expect(projectResource(registry, "User", fullUser(), opts)).toEqual({
      schemas: [CORE_USER],
      id: "u1",
      userName: "bjensen",
      emails: [{ value: "b@work", type: "work" }, { value: "b@home", type: "home" }],
    });
  });
});

describe("projectResource: Groups", () => {
  it.each<[string, ProjectionOptions, Record<string, unknown>]>([
    // Entra: GET /Groups/{id}?excludedAttributes=members (use-scim-to-provision-users-and-groups).
    ["Entra excludedAttributes=members", { excludedAttributes: ["members"] }, { schemas: [CORE_GROUP], id: "g1", meta: { ...meta, resourceType: "Group" }, displayName: "Eng" }],
    ["attributes=displayName", { attributes: ["displayName"] }, { schemas: [CORE_GROUP], id: "g1", displayName: "Eng" }],
    ["attributes=members.value", { attributes: ["members.value"] }, { schemas: [CORE_GROUP], id: "g1", members: [{ value: "u1" }] }],
  ])("%s", (_n, opts, expected) => {
    expect(projectResource(registry, "Group", group(), opts)).toEqual(expected);
  });
});

describe("emptyExtensionsPruned", () => {
  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    ["empty extension object", { schemas: [CORE_USER, ENT], id: "u1", [ENT]: {} }, { schemas: [CORE_USER], id: "u1" }],
    ["null extension object", { schemas: [CORE_USER, ENT], id: "u1", [ENT]: null }, { schemas: [CORE_USER], id: "u1" }],
    ["URN listed but no object", { schemas: [CORE_USER, ENT.toLowerCase()], id: "u1" }, { schemas: [CORE_USER], id: "u1" }],
    ["present extension kept", { schemas: [CORE_USER, ENT], [ENT]: { department: "D" } }, { schemas: [CORE_USER, ENT], [ENT]: { department: "D" } }],
    ["unregistered URNs in schemas left alone", { schemas: [CORE_USER, "urn:x:other"] }, { schemas: [CORE_USER, "urn:x:other"] }],
    ["no schemas key", { id: "u1", [ENT]: {} }, { id: "u1" }],
  ])("%s", (_n, input, expected) => {
    expect(emptyExtensionsPruned(registry, "User", input)).toEqual(expected);
  });
});

describe("normaliseMultiValuedForOutput", () => {
  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    [
      "primary false added where absent, type kept as stored and never invented",
      { emails: [{ value: "a@x", type: "Work" }, { value: "b@x", primary: true }, { value: "c@x" }] },
      { emails: [{ value: "a@x", type: "Work", primary: false }, { value: "b@x", primary: true }, { value: "c@x", primary: false }] },
    ],
    ["every attribute with a primary sub-attribute", { phoneNumbers: [{ value: "1" }], roles: [{ value: "r" }] }, { phoneNumbers: [{ value: "1", primary: false }], roles: [{ value: "r", primary: false }] }],
    ["attributes without primary untouched (groups)", { groups: [{ value: "g1", type: "direct" }] }, { groups: [{ value: "g1", type: "direct" }] }],
    ["single-valued complex untouched", { name: { givenName: "B" } }, { name: { givenName: "B" } }],
    ["extension multi-valued attributes", { [ACME]: { keys: [{ value: "k" }], badge: "B" } }, { [ACME]: { keys: [{ value: "k", primary: false }], badge: "B" } }],
  ])("%s", (_n, input, expected) => {
    const before = structuredClone(input);
    expect(normaliseMultiValuedForOutput(registry, "User", { id: "u1", ...input })).toEqual({ id: "u1", ...expected });
    expect(input).toEqual(before);
  });

  it("Group members untouched", () => {
    expect(normaliseMultiValuedForOutput(registry, "Group", group())).toEqual(group());
  });
});
