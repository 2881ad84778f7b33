/**
 * In-memory filter evaluation over sample resources in wire shape. The same semantics are checked
 * against SQL in test/db/filter-sql.test.ts.
 */
import { describe, expect, it } from "vitest";
import { FilterError } from "../../schemas/filter/ast.js";
import { matchElement, matchesFilter, normalizeDateTime } from "../../schemas/filter/match.js";
import { parseFilter } from "../../schemas/filter/parse.js";
import { SchemaRegistry, type AttributeDef } from "../../schemas/registry.js";

const ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

const reg = new SchemaRegistry();

const meta = (created: string) => ({ resourceType: "User", created, lastModified: created, location: "x", version: '"1"' });

const users: Record<string, unknown>[] = [
  {
    id: "u1",
    externalId: "ext-1",
    userName: "alice",
    displayName: "Alice Liddell",
    name: { givenName: "Alice", familyName: "Liddell" },
    active: true,
    emails: [
      { value: "alice@work.example", type: "work", primary: true },
      { value: "Alice@Home.example", type: "home" },
    ],
    [ENT]: { employeeNumber: "00123", manager: { value: "u2" } },
    groups: [{ value: "g1", display: "Admins", type: "direct" }],
    meta: meta("2024-01-01T00:00:00.000Z"),
  },
  {
    id: "u2",
    userName: "Bob",
    active: false,
    // The work email and the value bob@work.example are on different elements.
    emails: [
      { value: "bob@work.example", type: "home" },
      { value: "x@other.example", type: "work" },
    ],
    meta: meta("2024-03-01T10:00:00.000Z"),
  },
  { id: "u3", userName: "Émile", displayName: "ÉMILE Zola", emails: [], meta: meta("2024-06-01T12:00:00.000Z") },
];

const ids = (f: string) => users.filter((u) => matchesFilter(reg, "User", u, parseFilter(f))).map((u) => u.id);

describe("matchesFilter", () => {
  const cases: [string, string[]][] = [
    ['userName eq "ALICE"', ["u1"]],
    ['username Eq "bob"', ["u2"]],
    ['userName eq "E\u0301MILE"', ["u3"]],
    ['userName gt "bob"', ["u3"]],
    ['userName co "LI"', ["u1"]],
    ['displayName sw "émile"', ["u3"]],
    ['emails eq "ALICE@work.example"', ["u1"]],
    ['emails.value ew "@home.example"', ["u1"]],
    ['emails[type eq "work"].value eq "x@other.example"', ["u2"]],
    ['emails[type eq "work" and value eq "bob@work.example"]', []],
    ['emails[type eq "work"].value eq "bob@work.example"', []],
    ['emails[type eq "WORK"]', ["u1", "u2"]],
    ["emails.primary eq true", ["u1"]],
    ['emails.type ne "home"', ["u3"]],
    ["emails pr", ["u1", "u2"]],
    ["externalId eq ext-1", ["u1"]],
    ['externalId eq "EXT-1"', []],
    ['externalId ne "ext-1"', ["u2", "u3"]],
    ["externalId eq null", ["u2", "u3"]],
    ["active eq true", ["u1"]],
    ['active eq "False"', ["u2"]],
    ["active ne true", ["u2", "u3"]],
    ["active pr", ["u1", "u2"]],
    ['name[givenName eq "alice" and familyName sw "L"]', ["u1"]],
    ["name.givenName pr", ["u1"]],
    ['meta.created gt "2024-03-01T11:00:00+02:00"', ["u2", "u3"]],
    ['meta.created eq "2024-01-01"', ["u1"]],
    ['meta.resourceType eq "User"', ["u1", "u2", "u3"]],
    [`${ENT}:employeeNumber eq 00123`, ["u1"]],
    [`${ENT}:manager.value eq "U2"`, ["u1"]],
    [`${ENT}:manager eq "u2"`, ["u1"]],
    ['groups eq "g1"', ["u1"]],
    ['groups[display eq "admins"]', ["u1"]],
    ['not (userName eq "alice") and (active eq true or active eq false)', ["u2"]],
    ['userName eq "alice" or userName eq "bob" and active eq true', ["u1"]],
    ['unknownAttr eq "x"', []],
    ['not (unknownAttr eq "x")', ["u1", "u2", "u3"]],
  ];
  it.each(cases)("%s", (filter, expected) => {
    expect(ids(filter)).toEqual(expected);
  });

  const errors: [string, RegExp][] = [
    ["active gt true", /cannot apply to boolean/],
    ["active co true", /cannot apply to boolean/],
    ['meta.created gt "yesterday"', /is a dateTime/],
    ['name eq "x"', /Complex attribute 'name'/],
    ['active eq "maybe"', /is boolean/],
    ["userName gt null", /cannot compare with null/],
  ];
  it.each(errors)("rejects %s", (filter, message) => {
    expect(() => ids(filter)).toThrow(FilterError);
    expect(() => ids(filter)).toThrow(message);
  });
});

describe("matchElement (PATCH value filters)", () => {
  const members = reg.resolve("Group", "members")!.attr;
  const emails = reg.resolve("User", "emails")!.attr;
  const cases: [string, Record<string, unknown>, AttributeDef, string, boolean][] = [
    ["member by id", { value: "u1", type: "User", display: "Alice" }, members, 'value eq "u1"', true],
    ["member ids are caseExact", { value: "u1", type: "User" }, members, 'value eq "U1"', false],
    ["member type folds", { value: "g1", type: "Group" }, members, 'type eq "group"', true],
    ["member display", { value: "u1", type: "User", display: "Alice" }, members, 'display co "LIC"', true],
    ["email type and value", { value: "a@x", type: "Work" }, emails, 'type eq "work" and value eq "A@X"', true],
    ["email missing primary", { value: "a@x" }, emails, "primary eq true", false],
    ["email not primary", { value: "a@x" }, emails, "not (primary eq true)", true],
    ["unknown sub-attribute", { value: "a@x" }, emails, 'nope eq "x"', false],
  ];
  it.each(cases)("%s", (_label, element, attr, filter, expected) => {
    expect(matchElement(element, parseFilter(filter), attr)).toBe(expected);
  });
});

describe("normalizeDateTime", () => {
  const cases: [string, string | undefined][] = [
    ["2024-01-02T03:04:05Z", "2024-01-02T03:04:05.000Z"],
    ["2024-01-02T03:04:05.1234567Z", "2024-01-02T03:04:05.123Z"],
    ["2024-01-02T03:04:05+02:00", "2024-01-02T01:04:05.000Z"],
    ["2024-01-02T03:04:05", "2024-01-02T03:04:05.000Z"],
    ["2024-01-02", "2024-01-02T00:00:00.000Z"],
    ["2024-02-30", undefined],
    ["yesterday", undefined],
    ["1704067200", undefined],
  ];
  it.each(cases)("%s", (input, expected) => {
    expect(normalizeDateTime(input)).toBe(expected);
  });
});
