/**
 * Filter -> SQL against a real SQLite file. One table of filters drives both the SQL compiler and the
 * in-memory matcher over the same rows, so the two are proven to agree, and each row also names the
 * ids it must return.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asc, sql, type SQL } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileFilter, compileSortKey } from "../../db/filter-sql.js";
import { fold } from "../../schemas/fold.js";
import { openStore, type Store } from "../../db/open.js";
import { ResourceQueries } from "../../db/resources.js";
import { groups, userEmails, users } from "../../db/schema.js";
import { FilterError } from "../../schemas/filter/ast.js";
import { matchesFilter } from "../../schemas/filter/match.js";
import { parseFilter } from "../../schemas/filter/parse.js";
import { SchemaRegistry, type ResourceKind } from "../../schemas/registry.js";

const ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const ACME = "urn:example:params:scim:schemas:extension:acme:2.0:User";

/** The built-in schemas plus a custom extension exercising integer, dateTime, boolean and string[]. */
function registry(): SchemaRegistry {
  return new SchemaRegistry([
    {
      schema: ACME,
      name: "Acme",
      resource: "User",
      required: false,
      attributes: [
        { name: "badges", type: "string", multiValued: true },
        { name: "level", type: "integer" },
        { name: "hired", type: "dateTime" },
        { name: "remote", type: "boolean" },
      ],
    },
  ]);
}

interface UserRow {
  id: string;
  created: string;
  data: Record<string, unknown>;
}

const USERS: UserRow[] = [
  {
    id: "u1",
    created: "2024-01-01T00:00:00.000Z",
    data: {
      externalId: "ext-1",
      userName: "alice",
      displayName: "Alice Liddell",
      title: "Senior Engineer",
      name: { givenName: "Alice", familyName: "Liddell" },
      active: true,
      emails: [
        { value: "alice@work.example", type: "work", primary: true },
        { value: "Alice@Home.example", type: "home" },
      ],
      phoneNumbers: [{ value: "+1 555 0100", type: "work", primary: true }],
      [ENT]: { employeeNumber: "00123", department: "R&D", manager: { value: "u2" } },
      [ACME]: { badges: ["gold", "Silver"], level: 5, hired: "2019-06-01T10:00:00+02:00", remote: true },
    },
  },
  {
    id: "u2",
    created: "2024-03-01T10:00:00.000Z",
    data: {
      userName: "Bob",
      displayName: "Bob",
      active: false,
      // The work email and the value bob@work.example sit on different elements.
      emails: [
        { value: "bob@work.example", type: "home" },
        { value: "x@other.example", type: "work" },
      ],
      phoneNumbers: [
        { value: "+1 555 0200", type: "home" },
        { value: "+1 555 0201", type: "work" },
      ],
      [ACME]: { badges: ["bronze"], level: 3, hired: "2021-01-15T00:00:00Z", remote: false },
    },
  },
  {
    id: "u3",
    created: "2024-06-01T12:00:00.000Z",
    data: { userName: "Émile", displayName: "ÉMILE Zola", emails: [], [ENT]: { employeeNumber: "701984" }, [ACME]: { level: 3.5 } },
  },
  { id: "u4", created: "2024-07-01T00:00:00.000Z", data: { userName: "dave", externalId: "ext-4", title: "" } },
  { id: "u5", created: "2024-08-01T00:00:00.000Z", data: { userName: "p%r_t*?[x]", emails: [{}] } },
];

const GROUPS = [
  { id: "g1", displayName: "Admins", members: [["u1", "User"], ["g2", "Group"]] },
  { id: "g2", displayName: "Staff", members: [["u1", "User"], ["u2", "User"], ["u3", "User"]] },
  { id: "g3", displayName: "Ops", members: [["u4", "User"]] },
  { id: "g4", displayName: "Empty", members: [] },
] as const;

const reg = registry();
let dir: string;
let store: Store;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "scimbridge-filter-"));
  store = openStore(join(dir, "t.db"));
  const { db } = store;
  for (const u of USERS) {
    const a = u.data;
    const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : null);
    db.insert(users)
      .values({
        id: u.id,
        userName: String(a.userName),
        userNameKey: fold(String(a.userName)),
        externalId: str(a.externalId),
        displayNameKey: str(a.displayName) === null ? null : fold(String(a.displayName)),
        active: typeof a.active === "boolean" ? a.active : null,
        data: JSON.stringify(a),
        created: u.created,
        lastModified: u.created,
        version: 1,
      })
      .run();
    const emails = (Array.isArray(a.emails) ? a.emails : []) as Record<string, unknown>[];
    emails.forEach((e, position) => {
      const value = str(e.value);
      db.insert(userEmails)
        .values({ userId: u.id, position, value, valueKey: value && fold(value), type: str(e.type), primary: e.primary === true })
        .run();
    });
  }
  for (const g of GROUPS) {
    const data = JSON.stringify({ displayName: g.displayName });
    db.insert(groups)
      .values({ id: g.id, displayName: g.displayName, displayNameKey: fold(g.displayName), data, created: "2024-01-01T00:00:00.000Z", lastModified: "2024-01-01T00:00:00.000Z", version: 1 })
      .run();
  }
  // Through the store's own insert: members.display is written with the row (db/resources.ts).
  const q = new ResourceQueries(db);
  for (const g of GROUPS) q.addMembers(g.id, g.members.map(([id, type]) => ({ id, type: type as "User" | "Group" })));
});

afterAll(() => {
  store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The wire shape schemas/render.ts produces, built from the same rows. */
function wire(kind: ResourceKind): Record<string, unknown>[] {
  if (kind === "User") {
    return USERS.map((u) => {
      const memberOf = GROUPS.filter((g) => g.members.some(([id, t]) => id === u.id && t === "User"));
      return {
        id: u.id,
        ...u.data,
        meta: { resourceType: "User", created: u.created, lastModified: u.created, location: `/Users/${u.id}`, version: '"1"' },
        ...(memberOf.length ? { groups: memberOf.map((g) => ({ value: g.id, display: g.displayName, type: "direct", $ref: `/Groups/${g.id}` })) } : {}),
      };
    });
  }
  return GROUPS.map((g) => ({
    id: g.id,
    displayName: g.displayName,
    meta: { resourceType: "Group", created: "2024-01-01T00:00:00.000Z", lastModified: "2024-01-01T00:00:00.000Z" },
    members: g.members.map(([value, type]) => {
      const u = USERS.find((x) => x.id === value);
      const display = u ? (u.data.displayName ?? u.data.userName) : GROUPS.find((x) => x.id === value)?.displayName;
      return { value, type, display, $ref: `/${type}s/${value}` };
    }),
  }));
}

function sqlIds(kind: ResourceKind, where: SQL): string[] {
  const t = kind === "User" ? users : groups;
  return store.db.select({ id: t.id }).from(t).where(where).orderBy(asc(t.seq)).all().map((r) => r.id);
}

function bothIds(kind: ResourceKind, filter: string): { sql: string[]; memory: string[] } {
  const node = parseFilter(filter);
  return {
    sql: sqlIds(kind, compileFilter(reg, kind, node)),
    memory: wire(kind).filter((r) => matchesFilter(reg, kind, r, node)).map((r) => String(r.id)),
  };
}

const ALL = ["u1", "u2", "u3", "u4", "u5"];

describe("compileFilter agrees with matchesFilter (Users)", () => {
  const cases: [string, string[]][] = [
    // userName: folded key column (RFC 7643 §4.1.1 caseExact=false; Okta's randomUsernameCaps test).
    ['userName eq "ALICE"', ["u1"]],
    ['username Eq "bob"', ["u2"]],
    ['userName eq "E\u0301MILE"', ["u3"]],
    ['userName ne "alice"', ["u2", "u3", "u4", "u5"]],
    ['userName sw "A"', ["u1"]],
    ['userName co "LI"', ["u1"]],
    ['userName ew "E"', ["u1", "u3", "u4"]],
    ['userName gt "bob"', ["u3", "u4", "u5"]],
    ['userName le "bob"', ["u1", "u2"]],
    // LIKE/GLOB metacharacters are literal.
    ['userName co "%"', ["u5"]],
    ['userName co "_"', ["u5"]],
    ['userName co "*?"', ["u5"]],
    ['userName co "[x]"', ["u5"]],
    ['userName sw "p%r_"', ["u5"]],
    // displayName, externalId (caseExact), bare values (Entra).
    ['displayName eq "émile zola"', ["u3"]],
    ["displayName pr", ["u1", "u2", "u3"]],
    ['not (displayName eq "bob")', ["u1", "u3", "u4", "u5"]],
    ["externalId eq ext-1", ["u1"]],
    ['externalId eq "EXT-1"', []],
    ['externalId ne "ext-1"', ["u2", "u3", "u4", "u5"]],
    ["externalId pr", ["u1", "u4"]],
    ["externalId eq null", ["u2", "u3", "u5"]],
    ['id eq "u3"', ["u3"]],
    // active: 0/1/null column.
    ["active eq true", ["u1"]],
    ["active eq false", ["u2"]],
    ['active eq "False"', ["u2"]],
    ["active ne true", ["u2", "u3", "u4", "u5"]],
    ["active pr", ["u1", "u2"]],
    // emails: user_emails rows.
    ['emails eq "ALICE@work.example"', ["u1"]],
    ['emails.value eq "alice@home.example"', ["u1"]],
    ['emails co "@WORK.example"', ["u1", "u2"]],
    ['emails ne "bob@work.example"', ["u1", "u3", "u4", "u5"]],
    ['emails[type eq "work"].value eq "x@other.example"', ["u2"]],
    ['emails[type eq "work"].value eq "alice@work.example"', ["u1"]],
    ['emails[type eq "work"].value eq "bob@work.example"', []],
    ['emails[type eq "work" and value eq "bob@work.example"]', []],
    ['emails[type eq "Work"]', ["u1", "u2"]],
    ['emails[not (type eq "work")]', ["u1", "u2", "u5"]],
    ['emails.type ne "home"', ["u3", "u4", "u5"]],
    ["emails.primary eq true", ["u1"]],
    ["emails[primary eq false]", []],
    ["emails pr", ["u1", "u2"]],
    ["emails.value pr", ["u1", "u2"]],
    ["not (emails pr)", ["u3", "u4", "u5"]],
    // Generic JSON: strings, complex, multi-valued complex.
    ['title co "ENGINEER"', ["u1"]],
    ["title pr", ["u1"]],
    ['name.givenName sw "al"', ["u1"]],
    ['name[givenName eq "alice" and familyName eq "LIDDELL"]', ["u1"]],
    ['not (name[givenName eq "alice"])', ["u2", "u3", "u4", "u5"]],
    ["name pr", ["u1"]],
    ['phoneNumbers eq "+1 555 0201"', ["u2"]],
    ['phoneNumbers[type eq "work" and primary eq true]', ["u1"]],
    ['phoneNumbers.type ne "home"', ["u1", "u3", "u4", "u5"]],
    // Dates: columns normalised; filter values with offsets or date-only are normalised first.
    ['meta.created gt "2024-03-01T11:00:00+02:00"', ["u2", "u3", "u4", "u5"]],
    ['meta.created eq "2024-01-01"', ["u1"]],
    ['meta.created lt "2024-03-01T10:00:00Z"', ["u1"]],
    ['meta.lastModified ge "2024-07-01T00:00:00.000Z"', ["u4", "u5"]],
    ['meta.resourceType eq "User"', ALL],
    ['meta.resourceType eq "Group"', []],
    ["meta pr", ALL],
    // Enterprise extension.
    [`${ENT}:employeeNumber eq "00123"`, ["u1"]],
    [`${ENT}:employeeNumber eq 701984`, ["u3"]],
    [`${ENT}:employeeNumber gt "5"`, ["u3"]],
    [`${ENT}:department eq "r&d"`, ["u1"]],
    [`${ENT}:manager.value eq "U2"`, ["u1"]],
    [`${ENT}:manager eq "u2"`, ["u1"]],
    [`${ENT}:manager pr`, ["u1"]],
    [`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "dave"`, ["u4"]],
    // Custom extension: integer, dateTime in JSON with an offset, boolean, multi-valued simple.
    [`${ACME}:level gt 3`, ["u1", "u3"]],
    [`${ACME}:level ge 3.5`, ["u1", "u3"]],
    [`${ACME}:level eq "3"`, ["u2"]],
    [`${ACME}:hired lt "2019-06-01T09:00:00Z"`, ["u1"]],
    [`${ACME}:hired eq "2019-06-01T08:00:00Z"`, ["u1"]],
    [`${ACME}:remote eq false`, ["u2"]],
    [`${ACME}:badges eq "GOLD"`, ["u1"]],
    [`${ACME}:badges[value sw "s"]`, ["u1"]],
    [`${ACME}:badges ne "gold"`, ["u2", "u3", "u4", "u5"]],
    [`${ACME}:badges pr`, ["u1", "u2"]],
    // A User's groups: group_members.
    ['groups.value eq "g1"', ["u1"]],
    ['groups eq "g2"', ["u1", "u2", "u3"]],
    ['groups eq "G2"', []],
    ['groups.display eq "ADMINS"', ["u1"]],
    ['groups[display sw "st" and value eq "g2"]', ["u1", "u2", "u3"]],
    ['groups.type eq "direct"', ["u1", "u2", "u3", "u4"]],
    ["groups pr", ["u1", "u2", "u3", "u4"]],
    // Logic.
    ['not (userName eq "alice") and (active eq true or active eq false)', ["u2"]],
    ['userName eq "alice" or userName eq "bob" and active eq true', ["u1"]],
    ['(userName eq "alice" or userName eq "bob") and active eq false', ["u2"]],
    ['not (not (userName eq "dave"))', ["u4"]],
  ];
  it.each(cases)("%s", (filter, expected) => {
    const got = bothIds("User", filter);
    expect(got.sql).toEqual(expected);
    expect(got.memory).toEqual(expected);
  });
});

describe("compileFilter agrees with matchesFilter (Groups)", () => {
  const cases: [string, string[]][] = [
    ['displayName eq "admins"', ["g1"]],
    ['displayName sw "S"', ["g2"]],
    ['members[value eq "u1"]', ["g1", "g2"]],
    ['members[value eq "U1"]', []],
    ['members.value eq "u2"', ["g2"]],
    ['members eq "u3"', ["g2"]],
    ['members[type eq "group"]', ["g1"]],
    ['members[type eq "User" and value eq "g2"]', []],
    ['members.display eq "alice liddell"', ["g1", "g2"]],
    ['members.display eq "STAFF"', ["g1"]],
    ['members.display eq "dave"', ["g3"]],
    ['members.value ne "u1"', ["g3", "g4"]],
    ["members pr", ["g1", "g2", "g3"]],
    ["not (members pr)", ["g4"]],
    ['meta.resourceType eq "Group"', ["g1", "g2", "g3", "g4"]],
  ];
  it.each(cases)("%s", (filter, expected) => {
    const got = bothIds("Group", filter);
    expect(got.sql).toEqual(expected);
    expect(got.memory).toEqual(expected);
  });
});

describe("compileFilter rejects what it cannot answer", () => {
  const cases: [ResourceKind, string, RegExp][] = [
    ["User", 'nope eq "x"', /Unknown attribute 'nope'/],
    ["User", 'emails[nope eq "x"]', /Unknown sub-attribute 'nope'/],
    ["User", "active gt true", /cannot apply to boolean/],
    ["User", 'meta.created gt "yesterday"', /is a dateTime/],
    ["User", 'meta.version eq "1"', /cannot be used in a filter comparison/],
    ["User", 'groups.$ref eq "x"', /cannot be used in a filter comparison/],
    ["User", 'name eq "x"', /Complex attribute 'name'/],
    ["User", `${ACME}:level co "3"`, /cannot apply to numeric/],
    ["User", 'userName[value eq "x"]', /value filter needs a complex or multi-valued attribute/],
    ["User", 'meta[created gt "2024-01-01"]', /meta\.<sub-attribute>/],
    ["Group", 'groups eq "x"', /Unknown attribute 'groups' for Group/],
    ["Group", 'members.$ref eq "x"', /cannot be used/],
  ];
  it.each(cases)("%s: %s", (kind, filter, message) => {
    expect(() => compileFilter(reg, kind, parseFilter(filter))).toThrow(FilterError);
    expect(() => compileFilter(reg, kind, parseFilter(filter))).toThrow(message);
  });

  it("binds values as parameters", () => {
    const q = store.db.select({ id: users.id }).from(users).where(compileFilter(reg, "User", parseFilter(`userName eq "x' OR 1=1 --"`)));
    const { sql: text, params } = q.toSQL();
    expect(text).not.toContain("1=1");
    expect(params).toContain("x' or 1=1 --");
  });

  it("answers a long flat chain within SQLite's expression depth", () => {
    const terms: string[] = [];
    while ([...terms, "userName ne \"n000\""].join(" and ").length <= 4096) terms.push(`userName ne "n${terms.length}"`);
    expect(terms.length).toBeGreaterThan(150);
    expect(sqlIds("User", compileFilter(reg, "User", parseFilter(terms.join(" and "))))).toEqual(ALL);
  });
});

describe("compileSortKey", () => {
  const sorted = (kind: ResourceKind, sortBy: string) => {
    const t = kind === "User" ? users : groups;
    const key = compileSortKey(reg, kind, sortBy);
    return store.db.select({ id: t.id }).from(t).orderBy(asc(key), asc(t.seq)).all().map((r) => r.id);
  };
  const cases: [ResourceKind, string, string[]][] = [
    // caseExact=false sorts folded: "Bob" between "alice" and "dave" (RFC 7644 §3.4.2.3).
    ["User", "userName", ["u1", "u2", "u4", "u5", "u3"]],
    ["User", "meta.created", ["u1", "u2", "u3", "u4", "u5"]],
    // Multi-valued: the primary value, else the first; users without emails (NULL) first.
    ["User", "emails", ["u3", "u4", "u5", "u1", "u2"]],
    ["User", "emails.type", ["u3", "u4", "u5", "u2", "u1"]],
    ["User", "emails.primary", ["u2", "u3", "u4", "u5", "u1"]],
    ["User", "phoneNumbers.type", ["u3", "u4", "u5", "u2", "u1"]],
    ["User", `${ENT}:employeeNumber`, ["u2", "u4", "u5", "u1", "u3"]],
    ["User", `${ACME}:level`, ["u4", "u5", "u2", "u3", "u1"]],
    ["User", "groups", ["u5", "u1", "u2", "u3", "u4"]],
    ["Group", "displayName", ["g1", "g4", "g3", "g2"]],
    ["Group", "members.value", ["g4", "g1", "g2", "g3"]],
  ];
  it.each(cases)("%s sortBy %s", (kind, sortBy, expected) => {
    expect(sorted(kind, sortBy)).toEqual(expected);
  });

  it("rejects unknown and unsortable attributes", () => {
    expect(() => compileSortKey(reg, "User", "nope")).toThrow(FilterError);
    expect(() => compileSortKey(reg, "User", "meta.location")).toThrow(/Cannot sort by/);
  });
});

describe("query plans use the key indexes", () => {
  const plan = (filter: string) =>
    store.db
      .all<{ detail: string }>(sql`EXPLAIN QUERY PLAN SELECT ${users.id} FROM ${users} WHERE ${compileFilter(reg, "User", parseFilter(filter))}`)
      .map((r) => r.detail)
      .join("\n");

  it("userName eq uses users_user_name_key", () => {
    expect(plan('userName eq "ALICE"')).toMatch(/users_user_name_key/);
  });
  it("emails.value eq uses user_emails_value_key", () => {
    expect(plan('emails.value eq "alice@work.example"')).toMatch(/user_emails_value_key/);
  });
  it("emails eq uses user_emails_value_key", () => {
    expect(plan('emails eq "alice@work.example"')).toMatch(/user_emails_value_key/);
  });
  it("externalId eq uses users_external_id", () => {
    expect(plan('externalId eq "ext-1"')).toMatch(/users_external_id/);
  });
});
