/**
 * The SQLite spelling of the filter compiler's pieces (db/filter-dialect.ts): `data` is JSON text
 * read with json_extract/json_type/json_each/json_tree at `$."name"` paths, scim_fold() is the
 * fold() registered on every connection, booleans are 0/1.
 */
import { sql, type SQL } from "drizzle-orm";
import { FOLD_SQL_FUNCTION } from "../schemas/fold.js";
import { SQL_OPS, type FilterDialect, type JsonAt, type JsonDialect, type JsonStep, type SubstringOp } from "./filter-dialect.js";
import { groupMembers, groups, userEmails, users } from "./schema.js";

const FOLD = sql.raw(FOLD_SQL_FUNCTION);
const ISO_FORMAT = "%Y-%m-%dT%H:%M:%fZ";

const q = (name: string) => `."${name}"`;

/** GLOB is case-sensitive (LIKE folds ASCII in SQLite, wrong for caseExact); escape its wildcards. */
function globPattern(op: SubstringOp, value: string): string {
  const e = value.replace(/[*?[]/g, (c) => `[${c}]`);
  return op === "co" ? `*${e}*` : op === "sw" ? `${e}*` : `*${e}`;
}

/** `$."a"."b"`, with a computed index spliced in as `'…[' || expr || ']…'`. */
function jsonPath(steps: readonly JsonStep[]): SQL {
  const parts: SQL[] = [];
  let text = "$";
  for (const step of steps) {
    if (typeof step === "string") {
      text += q(step);
      continue;
    }
    parts.push(sql`${`${text}[`} || ${step.index} || `);
    text = "]";
  }
  return parts.length === 0 ? sql`${text}` : sql`${sql.join(parts)}${text}`;
}

const value = (at: JsonAt): SQL => sql`json_extract(${at.doc}, ${at.path})`;
const type = (at: JsonAt): SQL => sql`json_type(${at.doc}, ${at.path})`;

const json: JsonDialect = {
  at: (doc, steps) => ({ doc, path: jsonPath(steps) }),
  // json_tree walks every descendant, so this is match.ts isPresent(): some non-null, non-"" leaf.
  present: ({ doc, path }) =>
    sql`EXISTS (SELECT 1 FROM json_tree(${doc}, ${path}) AS "jt" WHERE "jt"."type" IN ('integer', 'real', 'true', 'false') OR ("jt"."type" = 'text' AND "jt"."atom" <> ''))`,
  isObject: (at) => sql`${type(at)} IS 'object'`,
  isBoolean: (at, b) => sql`${type(at)} IS ${b ? "true" : "false"}`,
  compareNumber: (at, op, n) =>
    sql`(coalesce(${type(at)}, '') IN ('integer', 'real') AND ${value(at)} ${sql.raw(SQL_OPS[op])} ${n})`,
  // strftime normalises an ISO value with an offset to UTC, like match.ts normalizeDateTime.
  compareDateTime: (at, op, iso) =>
    sql`(${type(at)} IS 'text' AND coalesce(strftime(${ISO_FORMAT}, ${value(at)}) ${sql.raw(SQL_OPS[op])} ${iso}, 0))`,
  testString: (at, caseExact, cond) => sql`(${type(at)} IS 'text' AND ${cond(caseExact ? value(at) : sql`${FOLD}(${value(at)})`)})`,
  elements: (at) => {
    const { doc, path } = at;
    return {
      frame: sql`json_each(${doc}, ${path}) AS "je" WHERE json_type(${doc}, ${path}) IS 'array'`,
      // SQLite cannot see outer columns in a subquery's ORDER BY, so read `primary` from the element itself.
      order: (hasPrimary) =>
        hasPrimary
          ? sql`(CASE WHEN "je"."type" = 'object' THEN json_extract("je"."value", '$.primary') END IS 1) DESC, "je"."key"`
          : sql`"je"."key"`,
      at: (name) => ({ doc, path: name === undefined ? sql`"je"."fullkey"` : sql`"je"."fullkey" || ${q(name)}` }),
    };
  },
  sortValue: (at, t, caseExact) => {
    if (t === "dateTime") return sql`strftime(${ISO_FORMAT}, ${value(at)})`;
    // RFC 7644 §3.4.2.3: caseExact=false attributes sort case-insensitively (scim_fold passes numbers through).
    return caseExact || t === "boolean" ? value(at) : sql`${FOLD}(${value(at)})`;
  },
};

export const sqliteFilterDialect: FilterDialect = {
  name: "sqlite",
  tables: { users, groups, userEmails, groupMembers },
  truth: (b) => (b ? sql`1` : sql`0`),
  fold: (expr) => sql`${FOLD}(${expr})`,
  substring: (expr, op, v) => sql`${expr} GLOB ${globPattern(op, v)}`,
  compareText: (expr, op, v) => sql`${expr} ${sql.raw(SQL_OPS[op])} ${v}`,
  compareColumn: (expr, op, v) => sql`${expr} ${sql.raw(SQL_OPS[op])} ${v}`,
  // IS (not =) keeps a NULL column two-valued and still uses the index.
  equalsNullable: (expr, v) => sql`${expr} IS ${v}`,
  isBoolean: (expr, b) => sql`${expr} IS ${b ? 1 : 0}`,
  columnPresent: (expr) => sql`(${expr} IS NOT NULL AND ${expr} <> '')`,
  // NULL sorts before 0 in SQLite, so DESC already puts it last.
  flagDescending: (expr) => sql`${expr} DESC`,
  sortText: (expr) => expr,
  memberOrder: sql`"gm"."rowid"`,
  json,
};
