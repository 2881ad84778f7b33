/**
 * The filter parser: the RFC 7644 §3.4.2.2 grammar, each IdP tolerance (idp-traffic.md §0, §5),
 * and the errors a client gets back as 400 invalidFilter.
 */
import { describe, expect, it } from "vitest";
import { FilterError, type FilterNode, type FilterValue } from "../../schemas/filter/ast.js";
import { MAX_FILTER_DEPTH, MAX_FILTER_LENGTH, parseFilter } from "../../schemas/filter/parse.js";

const ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

const cmp = (path: string, op: string, value: FilterValue): FilterNode =>
  ({ kind: "compare", path, op, value }) as FilterNode;
const pr = (path: string): FilterNode => ({ kind: "present", path });
const and = (left: FilterNode, right: FilterNode): FilterNode => ({ kind: "and", left, right });
const or = (left: FilterNode, right: FilterNode): FilterNode => ({ kind: "or", left, right });
const not = (expr: FilterNode): FilterNode => ({ kind: "not", expr });
const vp = (path: string, filter: FilterNode): FilterNode => ({ kind: "valuePath", path, filter });

describe("parseFilter: grammar (RFC 7644 §3.4.2.2)", () => {
  const cases: [string, string, FilterNode][] = [
    ["eq with a string", 'userName eq "bjensen"', cmp("userName", "eq", "bjensen")],
    ["ne", 'title ne "x"', cmp("title", "ne", "x")],
    ["co", 'name.familyName co "O\'Malley"', cmp("name.familyName", "co", "O'Malley")],
    ["sw", 'userName sw "J"', cmp("userName", "sw", "J")],
    ["ew", 'userName ew "n"', cmp("userName", "ew", "n")],
    ["gt with a dateTime string", 'meta.lastModified gt "2011-05-13T04:42:34Z"', cmp("meta.lastModified", "gt", "2011-05-13T04:42:34Z")],
    ["ge", 'meta.created ge "2011-05-13"', cmp("meta.created", "ge", "2011-05-13")],
    ["lt", "x lt 5", cmp("x", "lt", 5)],
    ["le", "x le -1.5e3", cmp("x", "le", -1500)],
    ["pr", "title pr", pr("title")],
    ["true", "active eq true", cmp("active", "eq", true)],
    ["false", "active eq false", cmp("active", "eq", false)],
    ["null", "nickName eq null", cmp("nickName", "eq", null)],
    ["integer", "level eq 42", cmp("level", "eq", 42)],
    ["decimal", "score gt 0.25", cmp("score", "gt", 0.25)],
    ["escaped string", String.raw`displayName eq "a \"q\" \\ \/ \u00e9\n"`, cmp("displayName", "eq", 'a "q" \\ / é\n')],
    ["unicode string", 'displayName eq "Émile 日本"', cmp("displayName", "eq", "Émile 日本")],
    ["empty string", 'nickName eq ""', cmp("nickName", "eq", "")],
    ["URN-qualified attribute", `${ENT}:employeeNumber eq "701984"`, cmp(`${ENT}:employeeNumber`, "eq", "701984")],
    ["URN-qualified sub-attribute", `${ENT}:manager.value eq "26118915"`, cmp(`${ENT}:manager.value`, "eq", "26118915")],
    ["core URN", "urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"J\"", cmp("urn:ietf:params:scim:schemas:core:2.0:User:userName", "sw", "J")],
    ["$ref sub-attribute", 'members.$ref pr', pr("members.$ref")],
    ["and", 'title pr and userType eq "Employee"', and(pr("title"), cmp("userType", "eq", "Employee"))],
    ["or", 'title pr or userType eq "Intern"', or(pr("title"), cmp("userType", "eq", "Intern"))],
    ["and binds tighter than or", "a pr or b pr and c pr", or(pr("a"), and(pr("b"), pr("c")))],
    ["and binds tighter than or (left)", "a pr and b pr or c pr", or(and(pr("a"), pr("b")), pr("c"))],
    ["left associative", "a pr and b pr and c pr", and(and(pr("a"), pr("b")), pr("c"))],
    ["parentheses", "(a pr or b pr) and c pr", and(or(pr("a"), pr("b")), pr("c"))],
    ["not with parentheses", 'not (userName eq "x")', not(cmp("userName", "eq", "x"))],
    ["not binds tighter than and", "not (a pr) and b pr", and(not(pr("a")), pr("b"))],
    ["nested parentheses", "((a pr))", pr("a")],
    [
      "RFC example with valuePath",
      'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
      and(cmp("userType", "eq", "Employee"), vp("emails", and(cmp("type", "eq", "work"), cmp("value", "co", "@example.com")))),
    ],
    [
      "valuePath with or and not inside",
      'emails[not (type eq "work") or primary eq true]',
      vp("emails", or(not(cmp("type", "eq", "work")), cmp("primary", "eq", true))),
    ],
    ["valuePath on members", 'members[value eq "2819c223"]', vp("members", cmp("value", "eq", "2819c223"))],
    ["URN-qualified valuePath", `${ENT}:manager[value eq "1"]`, vp(`${ENT}:manager`, cmp("value", "eq", "1"))],
    ["extra whitespace", '  userName   eq\t"x"  ', cmp("userName", "eq", "x")],
    ["an attribute named not", 'not eq "x"', cmp("not", "eq", "x")],
  ];
  it.each(cases)("%s", (_label, input, expected) => {
    expect(parseFilter(input)).toEqual(expected);
  });
});

describe("parseFilter: tolerances", () => {
  const cases: [string, string, FilterNode][] = [
    // PingOne's default template (idp-traffic.md §2): lower-case attribute, capitalised operator.
    ["PingOne `username Eq`", 'username Eq "bjensen"', cmp("username", "eq", "bjensen")],
    ["upper-case operators and keywords", 'A PR AND NOT (B EQ "x") OR C Co "y"', or(and(pr("A"), not(cmp("B", "eq", "x"))), cmp("C", "co", "y"))],
    // Entra's tutorial (idp-traffic.md §3): `externalId eq jyoung`, unquoted.
    ["Entra bare value", "externalId eq jyoung", cmp("externalId", "eq", "jyoung")],
    ["bare GUID", "externalId eq 6c5e7a7e-4b1f-4b5e-9d7c-1234567890ab", cmp("externalId", "eq", "6c5e7a7e-4b1f-4b5e-9d7c-1234567890ab")],
    ["bare value with leading zeros stays text", "employeeNumber eq 00123", cmp("employeeNumber", "eq", "00123")],
    ["bare True is text (boolean attributes coerce it later)", "active eq True", cmp("active", "eq", "True")],
    ["bare value before a parenthesis", "(externalId eq abc)", cmp("externalId", "eq", "abc")],
    // Entra's uniqueness filter (idp-traffic.md §3): one element must satisfy both tests.
    [
      "Entra valuePath.sub",
      'emails[type eq "work"].value eq "a@x.com"',
      vp("emails", and(cmp("type", "eq", "work"), cmp("value", "eq", "a@x.com"))),
    ],
    ["valuePath.sub pr", 'emails[type eq "work"].value pr', vp("emails", and(cmp("type", "eq", "work"), pr("value")))],
    [
      "valuePath.sub inside a larger filter",
      'emails[type eq "work"].value eq "a" and active eq true',
      and(vp("emails", and(cmp("type", "eq", "work"), cmp("value", "eq", "a"))), cmp("active", "eq", true)),
    ],
    ["not without parentheses", 'not userName eq "x"', not(cmp("userName", "eq", "x"))],
  ];
  it.each(cases)("%s", (_label, input, expected) => {
    expect(parseFilter(input)).toEqual(expected);
  });
});

describe("parseFilter: errors", () => {
  const cases: [string, string, RegExp][] = [
    ["empty", "", /Empty filter/],
    ["blank", "   ", /Empty filter/],
    ["missing operator", "userName", /Expected an operator after 'userName' at position 9/],
    ["unknown operator", 'userName is "x"', /Unknown operator 'is' at position 10/],
    ["missing value", "userName eq", /Expected a value after 'eq' at position 12/],
    ["unterminated string", 'userName eq "abc', /Unterminated string at position 13/],
    ["bad escape", String.raw`userName eq "a\qb"`, /Invalid string at position 13/],
    ["unbalanced (", '(userName eq "x"', /Expected '\)' at position 17, found end of filter/],
    ["unbalanced )", 'userName eq "x")', /Unexpected '\)' at position 16/],
    ["unclosed [", 'emails[type eq "work"', /Expected '\]' at position 22/],
    ["trailing garbage", 'userName eq "x" junk', /Unexpected 'junk' at position 17/],
    ["dangling and", 'userName eq "x" and', /Expected an attribute path at position 20, found end of filter/],
    ["dangling not", "not", /Expected a filter after 'not'/],
    ["invalid attribute path", '1abc eq "x"', /Invalid attribute path '1abc' at position 1/],
    ["too many dots", 'a.b.c eq "x"', /Invalid attribute path 'a.b.c'/],
    ["nested valuePath", 'emails[x[y eq "1"]]', /Nested value filter 'x\['/],
    ["valuePath on a sub-attribute", 'name.givenName[x eq "1"]', /not a sub-attribute/],
    ["valuePath.sub without test", 'emails[type eq "work"].value', /Expected an operator after 'value'/],
    ["string as attribute", '"userName" eq "x"', /Expected an attribute path at position 1, found string "userName"/],
    ["operator in place of value", "userName eq )", /Expected a value after 'eq' at position 13, found '\)'/],
    ["pr with a value", 'title pr "x"', /Unexpected string "x" at position 10/],
  ];
  it.each(cases)("%s", (_label, input, message) => {
    expect(() => parseFilter(input)).toThrow(FilterError);
    expect(() => parseFilter(input)).toThrow(message);
  });

  it("rejects input longer than the limit", () => {
    const long = `userName eq "${"a".repeat(MAX_FILTER_LENGTH)}"`;
    expect(() => parseFilter(long)).toThrow(/longer than 4096/);
  });

  it("accepts nesting up to the limit and rejects deeper nesting", () => {
    const nested = (n: number) => `${"(".repeat(n)}a pr${")".repeat(n)}`;
    expect(parseFilter(nested(MAX_FILTER_DEPTH))).toEqual(pr("a"));
    expect(() => parseFilter(nested(MAX_FILTER_DEPTH + 1))).toThrow(/nested deeper than 64/);
    expect(() => parseFilter(`${"not ".repeat(MAX_FILTER_DEPTH + 1)}a pr`)).toThrow(/nested deeper than 64/);
  });

  it("parses a long flat chain without recursion trouble", () => {
    const chain = Array.from({ length: 300 }, (_, i) => `a${i} pr`).join(" and ");
    let node = parseFilter(chain);
    let n = 1;
    while (node.kind === "and") {
      node = node.left;
      n++;
    }
    expect(n).toBe(300);
  });
});
