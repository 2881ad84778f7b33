/**
 * The tester proves itself on a deliberately non-conformant server (a plain SCIMMY +
 * scimmy-routers server as users write it, test/fixtures/scimmy-reference-server.ts): every known
 * defect of that server is a failure of a named step, and every failure is one of those defects.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startReferenceServer, REFERENCE_TOKEN, type ReferenceServer } from "../fixtures/scimmy-reference-server.js";
import { formatRecord, runConformance, type Counts, type StepRecord } from "../../server/conformance/runner.js";
import { SUITE_NAMES } from "../../server/conformance/selection.js";

/** Step id → the reference server's defect it exposes (each verified by hand against RFC text). */
const KNOWN_DEFECTS: Record<string, string> = {
  "auth.scheme-case-insensitive": "the README's handler refuses a lower-case `bearer` scheme",
  "auth.no-credentials-401-challenge": "401 without WWW-Authenticate",
  "rfc.error-no-credentials-is-401-with-www-authenticate": "401 without WWW-Authenticate",
  "crud.create-201-location": "no Location header on 201",
  "patch.operations-key-any-case": 'a PatchOp with lower-case "operations" is refused',
  "patch.replace-multi-valued-without-path": "a path-less replace of emails appends the new values instead of replacing them",
  "etag.if-match-mismatch-412": "If-Match is ignored (no 412)",
  "membership.add-existing-member-idempotent": "re-adding a member stores it twice",
  "projection.attributes-keeps-id-schemas": "attributes= drops schemas",
  "projection.excluded-keeps-id-schemas": "excludedAttributes= drops schemas",
  "projection.list-attributes-keeps-id-schemas": "attributes= on a list drops schemas",
  "filter.malformed-2": "`userName eq` (no value) answers 200",
  "filter.malformed-5": "a dangling `and` answers 200",
  "referential.unknown-member-id-refused": "PATCH adds a member id that names nothing",
  "referential.unknown-member-on-create": "a group is created with a member id that names nothing",
  "encoding.invalid-utf8-400": "invalid UTF-8 is accepted (replaced by U+FFFD)",
  "encoding.special-characters-round-trip": 'a userName with \\ and " cannot be found by an escaped filter',
  "concurrency.member-adds": "concurrent member adds lose updates (read-modify-write PATCH)",
  "concurrency.duplicate-creates": "concurrent creates of one userName all succeed",
  "filter.eq-value-case-insensitive": "filters compare userName case-sensitively (caseExact is false)",
  "rfc.filter-attribute-names-and-operators-are-case-insensitive": "filters compare userName case-sensitively",
  "filter.not-and-grouping": "not ( … or … ) matches everything",
  "filter.multi-valued-absent-on-some": "a filter on emails fails with 400 when a user has no emails",
  "paging.window-and-total": "count and startIndex are ignored (express 5 query getter)",
  "rfc.paging-first-page-of-2-integer-fields-totalresults-of-all-matches": "paging ignored",
  "rfc.paging-second-page-completes-the-set-without-repeats-stable-order": "paging ignored",
  "rfc.paging-count-0-returns-totalresults-only": "paging ignored",
  "rfc.error-username-taken-in-other-case-is-409-uniqueness": "userName uniqueness is case-sensitive",
};

/** The defects the tester must name as failures (the list a black-box review found). */
const MUST_FIND = [
  "auth.scheme-case-insensitive",
  "crud.create-201-location",
  "patch.operations-key-any-case",
  "etag.if-match-mismatch-412",
  "membership.add-existing-member-idempotent",
  "projection.attributes-keeps-id-schemas",
  "filter.malformed-2",
  "referential.unknown-member-id-refused",
  "encoding.invalid-utf8-400",
  "encoding.special-characters-round-trip",
  "concurrency.member-adds",
  "concurrency.duplicate-creates",
];

let server: ReferenceServer;
const records: StepRecord[] = [];
let counts: Counts;

beforeAll(async () => {
  server = await startReferenceServer();
  counts = await runConformance(server.url, { token: REFERENCE_TOKEN }, SUITE_NAMES, (r) => records.push(r));
}, 60_000);
afterAll(() => server?.stop());

const report = () => records.flatMap(formatRecord).join("\n");
const failed = () => records.filter((r) => r.outcome === "fail").map((r) => r.id);

describe("scimbridge conformance against a plain SCIMMY + scimmy-routers server", () => {
  it.each(MUST_FIND)("reports %s as a failure", (id) => {
    expect(failed(), report()).toContain(id);
  });

  it("every failure is a known defect of that server (no false failure)", () => {
    const unexplained = failed().filter((id) => !(id in KNOWN_DEFECTS));
    expect(unexplained, report()).toEqual([]);
  });

  it("every known defect is reported", () => {
    const missed = Object.keys(KNOWN_DEFECTS).filter((id) => !failed().includes(id));
    expect(missed, report()).toEqual([]);
  });

  it("skips what /ServiceProviderConfig says is unsupported and warns on IdP dialects", () => {
    const skipped = records.filter((r) => r.outcome === "skip").map((r) => r.id);
    expect(skipped).toEqual(expect.arrayContaining(["etag.if-match-current-succeeds", "etag.if-none-match-304"]));
    const warned = records.filter((r) => r.outcome === "warn");
    expect(warned.map((r) => r.id)).toContain("dialect.entra-string-boolean");
    expect(warned.every((r) => r.level === "should")).toBe(true);
    expect(counts.failed).toBe(failed().length);
  });

  it("deletes what it created, although steps failed", async () => {
    const headers = { Authorization: `Bearer ${REFERENCE_TOKEN}` };
    for (const kind of ["Users", "Groups"]) {
      const res = await fetch(`${server.url}/${kind}`, { headers });
      expect(((await res.json()) as { totalResults: number }).totalResults, kind).toBe(0);
    }
  });

  it("every step cites its RFC section or vendor document", () => {
    for (const r of records) expect(r.source, r.id).toMatch(/^https:\/\//);
  });
});
