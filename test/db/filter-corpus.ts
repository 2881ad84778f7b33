/**
 * One table of SCIM filters and sort keys over one set of resources, shared by the SQLite
 * (filter-sql.test.ts) and PostgreSQL (filter-sql-pg.test.ts) runs of db/filter-sql.ts and by the
 * in-memory matcher (schemas/filter/match.ts): each row names the ids every engine must return, so
 * the three are held to the same answers. Rows written with non-ASCII case (İ, final sigma, ẞ, NFD
 * accents) and dateTime values that are not dates sit beside the ordinary ones.
 */
import { matchesFilter } from "../../schemas/filter/match.js";
import { parseFilter } from "../../schemas/filter/parse.js";
import { SchemaRegistry, type ResourceKind } from "../../schemas/registry.js";

export const ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
export const ACME = "urn:example:params:scim:schemas:extension:acme:2.0:User";

/** The built-in schemas plus a custom extension exercising integer, decimal, dateTime, boolean and string[]. */
export function corpusRegistry(): SchemaRegistry {
  return new SchemaRegistry([
    {
      schema: ACME,
      name: "Acme",
      resource: "User",
      required: false,
      attributes: [
        { name: "badges", type: "string", multiValued: true },
        { name: "level", type: "integer" },
        { name: "score", type: "decimal" },
        { name: "hired", type: "dateTime" },
        { name: "remote", type: "boolean" },
      ],
    },
  ]);
}

export interface UserRow {
  id: string;
  created: string;
  data: Record<string, unknown>;
}

export const USERS: UserRow[] = [
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
      [ACME]: { badges: ["gold", "Silver"], level: 5, score: 1.5, hired: "2019-06-01T10:00:00+02:00", remote: true },
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
    data: { userName: "Émile", displayName: "ÉMILE Zola", nickName: "Émile", emails: [], [ENT]: { employeeNumber: "701984" }, [ACME]: { level: 3.5 } },
  },
  { id: "u4", created: "2024-07-01T00:00:00.000Z", data: { userName: "dave", externalId: "ext-4", title: "" } },
  { id: "u5", created: "2024-08-01T00:00:00.000Z", data: { userName: "p%r_t*?[x]", emails: [{}] } },
  {
    // Folding beyond a per-letter table: İ lowers to i + U+0307, a word-final Σ to ς, ẞ to ß.
    // score and hired hold values of the wrong type: every test on them is false, never an error.
    id: "u6",
    created: "2024-09-01T00:00:00.000Z",
    data: {
      userName: "\u0130lkay",
      displayName: "\u03a3\u0391\u03a3",
      nickName: "\u0130lkay",
      title: "STRA\u1e9eE \u03a3\u0391\u03a3",
      [ACME]: { score: "high", hired: "not a date" },
    },
  },
  {
    // Written in NFD (e + U+0308, e + U+0301); April 31 with an offset rolls over to May 1, as
    // Date.parse does; remote is a string, not a boolean.
    id: "u7",
    created: "2024-10-01T00:00:00.000Z",
    data: { userName: "Chloe\u0308", title: "Cafe\u0301", [ACME]: { hired: "2024-04-31T10:00:00+01:00", remote: "yes" } },
  },
];

export const GROUPS = [
  { id: "g1", displayName: "Admins", members: [["u1", "User"], ["g2", "Group"]] },
  { id: "g2", displayName: "Staff", members: [["u1", "User"], ["u2", "User"], ["u3", "User"]] },
  { id: "g3", displayName: "Ops", members: [["u4", "User"], ["u6", "User"], ["u7", "User"]] },
  { id: "g4", displayName: "Empty", members: [] },
] as const satisfies { id: string; displayName: string; members: (readonly [string, "User" | "Group"])[] }[];

export const ALL_USERS = USERS.map((u) => u.id);
export const GROUP_CREATED = "2024-01-01T00:00:00.000Z";

/** members.display as the store keeps it (db/resources.ts): a user's displayName, else its userName; a group's displayName. */
export function memberDisplay(id: string): string | undefined {
  const u = USERS.find((x) => x.id === id);
  if (u) return String(u.data.displayName ?? u.data.userName);
  return GROUPS.find((g) => g.id === id)?.displayName;
}

/** The wire shape schemas/render.ts produces, built from the same rows. */
export function wire(kind: ResourceKind): Record<string, unknown>[] {
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
    meta: { resourceType: "Group", created: GROUP_CREATED, lastModified: GROUP_CREATED },
    members: g.members.map(([value, type]) => ({ value, type, display: memberDisplay(value), $ref: `/${type}s/${value}` })),
  }));
}

/** The ids the in-memory matcher selects, in insertion order. */
export function memoryIds(registry: SchemaRegistry, kind: ResourceKind, filter: string): string[] {
  const node = parseFilter(filter);
  return wire(kind)
    .filter((r) => matchesFilter(registry, kind, r, node))
    .map((r) => String(r.id));
}

const except = (...ids: string[]) => ALL_USERS.filter((id) => !ids.includes(id));

export const USER_CASES: [string, string[]][] = [
  // userName: folded key column (RFC 7643 §4.1.1 caseExact=false; Okta's randomUsernameCaps test).
  ['userName eq "ALICE"', ["u1"]],
  ['username Eq "bob"', ["u2"]],
  ['userName eq "E\u0301MILE"', ["u3"]],
  ['userName ne "alice"', except("u1")],
  ['userName sw "A"', ["u1"]],
  ['userName co "LI"', ["u1"]],
  ['userName ew "E"', ["u1", "u3", "u4"]],
  ['userName gt "bob"', ["u3", "u4", "u5", "u6", "u7"]],
  ['userName le "bob"', ["u1", "u2"]],
  // LIKE/GLOB metacharacters are literal.
  ['userName co "%"', ["u5"]],
  ['userName co "_"', ["u5"]],
  ['userName co "*?"', ["u5"]],
  ['userName co "[x]"', ["u5"]],
  ['userName sw "p%r_"', ["u5"]],
  // Non-ASCII folding: İ is i + U+0307, not i; Σ at a word's end is ς; NFD and NFC are one value.
  ['userName eq "\u0130LKAY"', ["u6"]],
  ['userName eq "ilkay"', []],
  ['userName sw "i\u0307"', ["u6"]],
  ['userName eq "CHLO\u00cb"', ["u7"]],
  ['displayName eq "\u03c3\u03b1\u03c2"', ["u6"]],
  ['displayName eq "\u03c3\u03b1\u03c3"', []],
  // ... and inside `data`, where SQL folds with scim_fold().
  ['nickName eq "\u0130lkay"', ["u6"]],
  ['nickName eq "ilkay"', []],
  ['title co "\u03c3\u03b1\u03c2"', ["u6"]],
  ['title sw "stra\u1e9ee"', ["u6"]],
  ['title sw "STRASSE"', []],
  ['title eq "CAF\u00c9"', ["u7"]],
  ['title ew "E\u0301"', ["u7"]],
  // Code-point order, as SQLite's BINARY: "café" is after "cafez" (é is U+00E9), unlike in en-US.
  ['title gt "cafez"', ["u1", "u6", "u7"]],
  // displayName, externalId (caseExact), bare values (Entra).
  ['displayName eq "émile zola"', ["u3"]],
  ["displayName pr", ["u1", "u2", "u3", "u6"]],
  ['not (displayName eq "bob")', except("u2")],
  ["externalId eq ext-1", ["u1"]],
  ['externalId eq "EXT-1"', []],
  ['externalId ne "ext-1"', except("u1")],
  ["externalId pr", ["u1", "u4"]],
  ["externalId eq null", except("u1", "u4")],
  ['id eq "u3"', ["u3"]],
  // active: a nullable boolean column.
  ["active eq true", ["u1"]],
  ["active eq false", ["u2"]],
  ['active eq "False"', ["u2"]],
  ["active ne true", except("u1")],
  ["active pr", ["u1", "u2"]],
  // emails: user_emails rows.
  ['emails eq "ALICE@work.example"', ["u1"]],
  ['emails.value eq "alice@home.example"', ["u1"]],
  ['emails co "@WORK.example"', ["u1", "u2"]],
  ['emails ne "bob@work.example"', except("u2")],
  ['emails[type eq "work"].value eq "x@other.example"', ["u2"]],
  ['emails[type eq "work"].value eq "alice@work.example"', ["u1"]],
  ['emails[type eq "work"].value eq "bob@work.example"', []],
  ['emails[type eq "work" and value eq "bob@work.example"]', []],
  ['emails[type eq "Work"]', ["u1", "u2"]],
  ['emails[not (type eq "work")]', ["u1", "u2", "u5"]],
  ['emails.type ne "home"', except("u1", "u2")],
  ["emails.primary eq true", ["u1"]],
  ["emails[primary eq false]", []],
  ["emails pr", ["u1", "u2"]],
  ["emails.value pr", ["u1", "u2"]],
  ["not (emails pr)", except("u1", "u2")],
  // Generic JSON: strings, complex, multi-valued complex.
  ['title co "ENGINEER"', ["u1"]],
  ["title pr", ["u1", "u6", "u7"]],
  ['name.givenName sw "al"', ["u1"]],
  ['name[givenName eq "alice" and familyName eq "LIDDELL"]', ["u1"]],
  ['not (name[givenName eq "alice"])', except("u1")],
  ["name pr", ["u1"]],
  ['phoneNumbers eq "+1 555 0201"', ["u2"]],
  ['phoneNumbers[type eq "work" and primary eq true]', ["u1"]],
  ['phoneNumbers.type ne "home"', except("u2")],
  // Dates: columns normalised; filter values with offsets or date-only are normalised first.
  ['meta.created gt "2024-03-01T11:00:00+02:00"', ["u2", "u3", "u4", "u5", "u6", "u7"]],
  ['meta.created eq "2024-01-01"', ["u1"]],
  ['meta.created lt "2024-03-01T10:00:00Z"', ["u1"]],
  ['meta.lastModified ge "2024-07-01T00:00:00.000Z"', ["u4", "u5", "u6", "u7"]],
  ['meta.resourceType eq "User"', ALL_USERS],
  ['meta.resourceType eq "Group"', []],
  ["meta pr", ALL_USERS],
  // Enterprise extension.
  [`${ENT}:employeeNumber eq "00123"`, ["u1"]],
  [`${ENT}:employeeNumber eq 701984`, ["u3"]],
  [`${ENT}:employeeNumber gt "5"`, ["u3"]],
  [`${ENT}:department eq "r&d"`, ["u1"]],
  [`${ENT}:manager.value eq "U2"`, ["u1"]],
  [`${ENT}:manager eq "u2"`, ["u1"]],
  [`${ENT}:manager pr`, ["u1"]],
  [`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "dave"`, ["u4"]],
  // Custom extension: integer, decimal, dateTime in JSON with an offset, boolean, multi-valued simple.
  [`${ACME}:level gt 3`, ["u1", "u3"]],
  [`${ACME}:level ge 3.5`, ["u1", "u3"]],
  [`${ACME}:level eq "3"`, ["u2"]],
  [`${ACME}:hired lt "2019-06-01T09:00:00Z"`, ["u1"]],
  [`${ACME}:hired eq "2019-06-01T08:00:00Z"`, ["u1"]],
  [`${ACME}:remote eq false`, ["u2"]],
  [`${ACME}:badges eq "GOLD"`, ["u1"]],
  [`${ACME}:badges[value sw "s"]`, ["u1"]],
  [`${ACME}:badges ne "gold"`, except("u1")],
  [`${ACME}:badges pr`, ["u1", "u2"]],
  // Values of the wrong JSON type, and a dateTime that is not a date: false, not an error.
  [`${ACME}:score gt 1`, ["u1"]],
  [`not (${ACME}:score ge 0)`, except("u1")],
  [`${ACME}:score pr`, ["u1", "u6"]],
  [`${ACME}:hired gt "2000-01-01"`, ["u1", "u2", "u7"]],
  [`not (${ACME}:hired le "2100-01-01")`, except("u1", "u2", "u7")],
  [`${ACME}:hired eq "2024-05-01T09:00:00Z"`, ["u7"]],
  [`${ACME}:hired pr`, ["u1", "u2", "u6", "u7"]],
  [`${ACME}:remote eq true`, ["u1"]],
  [`${ACME}:remote ne true`, except("u1")],
  // A User's groups: group_members.
  ['groups.value eq "g1"', ["u1"]],
  ['groups eq "g2"', ["u1", "u2", "u3"]],
  ['groups eq "G2"', []],
  ['groups.display eq "ADMINS"', ["u1"]],
  ['groups[display sw "st" and value eq "g2"]', ["u1", "u2", "u3"]],
  ['groups.type eq "direct"', ["u1", "u2", "u3", "u4", "u6", "u7"]],
  ["groups pr", ["u1", "u2", "u3", "u4", "u6", "u7"]],
  // Logic.
  ['not (userName eq "alice") and (active eq true or active eq false)', ["u2"]],
  ['userName eq "alice" or userName eq "bob" and active eq true', ["u1"]],
  ['(userName eq "alice" or userName eq "bob") and active eq false', ["u2"]],
  ['not (not (userName eq "dave"))', ["u4"]],
];

export const GROUP_CASES: [string, string[]][] = [
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
  ['members.display eq "\u03c3\u03b1\u03c2"', ["g3"]],
  ['members.display sw "CHLO\u00cb"', ["g3"]],
  ['members.value ne "u1"', ["g3", "g4"]],
  ["members pr", ["g1", "g2", "g3"]],
  ["not (members pr)", ["g4"]],
  ['meta.resourceType eq "Group"', ["g1", "g2", "g3", "g4"]],
];

export const SORT_CASES: [ResourceKind, string, string[]][] = [
  // caseExact=false sorts folded: "Bob" between "alice" and "chloë"; "émile" after ASCII (RFC 7644 §3.4.2.3).
  ["User", "userName", ["u1", "u2", "u7", "u4", "u6", "u5", "u3"]],
  ["User", "meta.created", ["u1", "u2", "u3", "u4", "u5", "u6", "u7"]],
  // Multi-valued: the primary value, else the first; users without emails (NULL) first.
  ["User", "emails", ["u3", "u4", "u5", "u6", "u7", "u1", "u2"]],
  ["User", "emails.type", ["u3", "u4", "u5", "u6", "u7", "u2", "u1"]],
  ["User", "emails.primary", ["u2", "u3", "u4", "u5", "u6", "u7", "u1"]],
  ["User", "phoneNumbers.type", ["u3", "u4", "u5", "u6", "u7", "u2", "u1"]],
  ["User", "phoneNumbers", ["u3", "u4", "u5", "u6", "u7", "u1", "u2"]],
  // A simple multi-valued attribute without `primary`: its first element.
  ["User", `${ACME}:badges`, ["u3", "u4", "u5", "u6", "u7", "u2", "u1"]],
  // u4's title is "": present as a key, unlike a missing one.
  ["User", "title", ["u2", "u3", "u5", "u4", "u7", "u1", "u6"]],
  ["User", "nickName", ["u1", "u2", "u4", "u5", "u7", "u6", "u3"]],
  ["User", `${ENT}:employeeNumber`, ["u2", "u4", "u5", "u6", "u7", "u1", "u3"]],
  ["User", `${ACME}:level`, ["u4", "u5", "u6", "u7", "u2", "u3", "u1"]],
  // A value that is not a date has no key (NULL), like a missing one.
  ["User", `${ACME}:hired`, ["u3", "u4", "u5", "u6", "u1", "u2", "u7"]],
  ["User", "groups", ["u5", "u1", "u2", "u3", "u4", "u6", "u7"]],
  ["Group", "displayName", ["g1", "g4", "g3", "g2"]],
  ["Group", "members.value", ["g4", "g1", "g2", "g3"]],
  // The first member added (SQLite's rowid, PostgreSQL's group_members.position): g1's is u1 "Alice".
  ["Group", "members.display", ["g4", "g1", "g2", "g3"]],
];

/** Filters the compiler rejects with FilterError (400 invalidFilter), whatever the engine. */
export const REJECT_CASES: [ResourceKind, string, RegExp][] = [
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

/**
 * Sort keys the engines order differently, listed so that a change on either side is seen:
 * - a value of the wrong JSON type (u6's score "high", u7's remote "yes"). SQLite's key is the value
 *   itself, and SQLite orders text after every number (https://www.sqlite.org/datatype3.html#sort_order);
 *   a PostgreSQL key has one type, so such a value has none (NULL) and sorts with the missing ones.
 */
export const SORT_KNOWN_DIFFERENCES: { kind: ResourceKind; sortBy: string; sqlite: string[]; postgresql: string[] }[] = [
  {
    kind: "User",
    sortBy: `${ACME}:score`,
    sqlite: ["u2", "u3", "u4", "u5", "u7", "u1", "u6"],
    postgresql: ["u2", "u3", "u4", "u5", "u6", "u7", "u1"],
  },
  {
    kind: "User",
    sortBy: `${ACME}:remote`,
    sqlite: ["u3", "u4", "u5", "u6", "u2", "u1", "u7"],
    postgresql: ["u3", "u4", "u5", "u6", "u7", "u2", "u1"],
  },
];
