/** Filters (grammar, case rules, malformed input), paging windows and sorting (RFC 7644 §3.4.2). */
import type { Check, Ctx, Http } from "../types.js";
import { attr } from "../compare.js";
import { createUser, expectStatus, listed, q, RFC7644, scimError, uniqueName } from "./support.js";

const FILTER = `${RFC7644}#section-3.4.2.2`;
const PAGING = `${RFC7644}#section-3.4.2.4`;

/** Three users whose userNames share a run prefix: title A/B/C, only the middle one inactive. */
async function trio(http: Http, ctx: Ctx, label: string): Promise<{ prefix: string; ids: string[]; names: string[] }> {
  const prefix = uniqueName(ctx, label);
  const ids: string[] = [];
  const names: string[] = [];
  for (const [i, who] of ["a", "b", "c"].entries()) {
    const userName = `${prefix}-${who}`;
    const res = await http.send({ method: "POST", path: "/Users", body: { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName, title: `T${who.toUpperCase()}`, active: i !== 1 } });
    const id = attr(res.body, "id");
    if (res.status !== 201 || typeof id !== "string") throw new Error(`setup: creating a user answered ${res.status}`);
    ids.push(id);
    names.push(userName);
  }
  return { prefix, ids, names };
}

function filterCheck(id: string, title: string, filter: (prefix: string, names: string[]) => string, expect: number[]): Check {
  return {
    id: `filter.${id}`,
    area: "filter",
    title,
    source: FILTER,
    level: "must",
    requires: "filter",
    async run(http, ctx) {
      const t = await trio(http, ctx, id);
      const f = filter(t.prefix, t.names);
      const res = await http.send({ method: "GET", path: q("/Users", { filter: f }) });
      const got = listed(res).map((r) => String(attr(r, "id"))).sort();
      const want = expect.map((i) => t.ids[i]!).sort();
      const bad = expectStatus(res, 200);
      if (bad) return bad;
      if (got.join() !== want.join()) return `filter ${f} matched ${got.length} of the run's users, expected ${want.length}`;
      return attr(res.body, "totalResults") === want.length ? undefined : `totalResults is ${JSON.stringify(attr(res.body, "totalResults"))}, expected ${want.length}`;
    },
  };
}

const MALFORMED = ['userName eq "unterminated', "userName eq", 'userName zz "x"', '(userName eq "x"', 'userName eq "x" and', 'emails[type eq "work"'];

export const queryChecks: Check[] = [
  filterCheck("eq-value-case-insensitive", 'userName eq in upper case matches (caseExact false)', (_p, n) => `userName eq "${n[0]!.toUpperCase()}"`, [0]),
  filterCheck("ne", "ne", (p, n) => `userName sw "${p}" and userName ne "${n[0]}"`, [1, 2]),
  filterCheck("co-sw-ew", "co, sw and ew", (p) => `userName co "${p.slice(4)}" and userName sw "${p}" and userName ew "-c"`, [2]),
  filterCheck("or-and-precedence", "and binds tighter than or", (p, n) => `userName eq "${n[0]}" or userName sw "${p}" and title eq "TC"`, [0, 2]),
  filterCheck("not-and-grouping", "not ( ) and grouping", (p) => `userName sw "${p}" and not (title eq "TA" or title eq "TB")`, [2]),
  filterCheck("boolean", "boolean comparison", (p) => `userName sw "${p}" and active eq false`, [1]),
  filterCheck("pr", "pr", (p) => `userName sw "${p}" and title pr`, [0, 1, 2]),
  filterCheck("gt-lt-strings", "gt and lt on strings", (p, n) => `userName gt "${n[0]}" and userName lt "${n[2]}" and userName sw "${p}"`, [1]),
  filterCheck("operator-case", "operators and attribute names in any case", (p) => `USERNAME SW "${p}" AND Title Eq "TB"`, [1]),
  {
    id: "filter.multi-valued-absent-on-some",
    area: "filter",
    title: "emails.value ew … works when some users have no emails",
    // RFC 7644 §3.4.2.2: a resource without the attribute simply does not match.
    source: FILTER,
    level: "must",
    requires: "filter",
    async run(http, ctx) {
      const { id } = await createUser(http, ctx, "mv", { emails: [{ value: `mv-${ctx.run}@multi.example.org`, type: "work" }] });
      await createUser(http, ctx, "mv-none");
      const res = await http.send({ method: "GET", path: q("/Users", { filter: `emails.value ew "-${ctx.run}@multi.example.org"` }) });
      const got = listed(res).map((r) => attr(r, "id"));
      return expectStatus(res, 200) ?? (got.length === 1 && got[0] === id ? undefined : `matched ${JSON.stringify(got)}, expected [${id}]`);
    },
  },
  ...MALFORMED.map(
    (f, i): Check => ({
      id: `filter.malformed-${i + 1}`,
      area: "filter",
      title: `malformed filter ${f} is 400 invalidFilter`,
      // RFC 7644 §3.4.2.2 and the §3.12 table: "The specified filter syntax was invalid" → 400 invalidFilter.
      source: FILTER,
      level: "must",
      requires: "filter",
      async run(http) {
        return scimError(await http.send({ method: "GET", path: q("/Users", { filter: f }) }), 400, "invalidFilter");
      },
    }),
  ),
  {
    id: "paging.window-and-total",
    area: "paging",
    title: "startIndex/count give the requested window and totalResults of all matches",
    source: PAGING,
    level: "must",
    // The run's users are picked out by a filter, so a populated server can be tested.
    requires: "filter",
    async run(http, ctx) {
      const t = await trio(http, ctx, "page");
      const res = await http.send({ method: "GET", path: q("/Users", { filter: `userName sw "${t.prefix}"`, startIndex: 2, count: 1 }) });
      const items = listed(res);
      return (
        expectStatus(res, 200) ??
        (attr(res.body, "totalResults") !== 3 ? `totalResults is ${JSON.stringify(attr(res.body, "totalResults"))}, expected 3` : undefined) ??
        (items.length !== 1 ? `${items.length} resources for count=1` : undefined) ??
        (attr(res.body, "startIndex") !== 2 ? `startIndex is ${JSON.stringify(attr(res.body, "startIndex"))}, expected 2` : undefined)
      );
    },
  },
  {
    id: "paging.start-index-below-1",
    area: "paging",
    title: "startIndex=0 is read as 1",
    // RFC 7644 §3.4.2.4: "A value less than 1 SHALL be interpreted as 1."
    source: PAGING,
    level: "must",
    requires: "filter",
    async run(http, ctx) {
      const t = await trio(http, ctx, "page0");
      const res = await http.send({ method: "GET", path: q("/Users", { filter: `userName sw "${t.prefix}"`, startIndex: 0, count: 10 }) });
      return expectStatus(res, 200) ?? (listed(res).length === 3 ? undefined : `${listed(res).length} resources, expected 3`);
    },
  },
  {
    id: "sort.by-username",
    area: "sort",
    title: "sortBy=userName ascending and descending",
    source: `${RFC7644}#section-3.4.2.3`,
    level: "must",
    requires: "sort",
    async run(http, ctx) {
      const t = await trio(http, ctx, "sort");
      for (const [order, want] of [["ascending", t.names], ["descending", [...t.names].reverse()]] as const) {
        const res = await http.send({ method: "GET", path: q("/Users", { filter: `userName sw "${t.prefix}"`, sortBy: "userName", sortOrder: order }) });
        const got = listed(res).map((r) => attr(r, "userName"));
        const bad = expectStatus(res, 200);
        if (bad) return bad;
        if (got.join() !== want.join()) return `sortOrder=${order} gave ${JSON.stringify(got)}`;
      }
      return undefined;
    },
  },
];
