/** sameMeaning: SCIM JSON compared by meaning (RFC 7643 §2.1 names, multi-valued attributes as sets). */
import { describe, expect, it } from "vitest";
import { attr, sameMeaning } from "../../server/conformance/compare.js";

describe("sameMeaning", () => {
  const cases: [string, unknown, unknown, boolean, Parameters<typeof sameMeaning>[2]?][] = [
    ["key order does not matter", { a: 1, b: { c: 2, d: 3 } }, { b: { d: 3, c: 2 }, a: 1 }, true],
    ["attribute names compare in any case", { userName: "x", Name: { givenName: "g" } }, { username: "x", name: { GIVENNAME: "g" } }, true],
    ["values stay case-exact by default", { userName: "Alice" }, { userName: "alice" }, false],
    ["values compare in any case when asked (caseExact false)", { userName: "Alice" }, { userName: "alice" }, true, { caseInsensitiveValues: true }],
    ["multi-valued attributes compare as sets", { emails: [{ value: "a" }, { value: "b" }] }, { emails: [{ value: "b" }, { value: "a" }] }, true],
    ["…unless order is meaningful", [1, 2], [2, 1], false, { orderedArrays: true }],
    ["a set is a multiset: duplicates count", [1, 1, 2], [1, 2, 2], false],
    ["a missing attribute differs", { a: 1 }, { a: 1, b: 2 }, false],
    ["an undefined attribute counts as absent", { a: 1, b: undefined }, { a: 1 }, true],
    ["types are not coerced", { active: "false" }, { active: false }, false],
    ["null equals null only", null, null, true],
  ];
  it.each(cases)("%s", (_name, a, b, want, opts) => {
    expect(sameMeaning(a, b, opts)).toBe(want);
    expect(sameMeaning(b, a, opts)).toBe(want);
  });

  it("attr reads an attribute by name in any case", () => {
    expect(attr({ Resources: [1] }, "resources")).toEqual([1]);
    expect(attr({ id: "x" }, "ID")).toBe("x");
    expect(attr("nope", "id")).toBeUndefined();
  });
});
