/**
 * The PostgreSQL spelling of the filter compiler's pieces (db/filter-dialect.ts), over the tables
 * of db/schema-pg.ts: `data` is jsonb read with `#>`/`#>>` at text[] paths, scim_fold() is
 * db/fold-pg.ts, booleans are SQL booleans.
 *
 * Text order. SQLite compares text by code point (BINARY); PostgreSQL by the collation. Values
 * read from `data` are compared and sorted under COLLATE "C" (byte order, which is code-point order
 * in UTF-8), where no index is lost. Columns are compared as they are, so that their indexes serve
 * ranges and sorts: the database must use the "C" collation (initdb --no-locale or CREATE DATABASE
 * … LC_COLLATE 'C', as the test harness does) for column ranges and sorts to order as SQLite does.
 *
 * Casts of jsonb (`::numeric`, `::boolean`) raise on a value of another JSON type, and PostgreSQL
 * does not promise to evaluate AND's operands in order, so they sit behind CASE
 * (https://www.postgresql.org/docs/15/sql-expressions.html#SYNTAX-EXPRESS-EVAL).
 */
import { sql, type SQL } from "drizzle-orm";
import { FOLD_SQL_FUNCTION } from "../schemas/fold.js";
import { normalizeDateTimeSql } from "./datetime-pg.js";
import { SQL_OPS, type FilterDialect, type JsonAt, type JsonDialect, type JsonStep, type OrderOp } from "./filter-dialect.js";
import { groupMembers, groups, userEmails, users } from "./schema-pg.js";

const FOLD = sql.raw(FOLD_SQL_FUNCTION);
const op = (o: OrderOp): SQL => sql.raw(SQL_OPS[o]);
const collateC = (expr: SQL): SQL => sql`(${expr} COLLATE "C")`;

/** LIKE is case-sensitive in PostgreSQL; `\` escapes its wildcards and itself. */
function likePattern(o: "co" | "sw" | "ew", value: string): string {
  const e = value.replace(/[\\%_]/g, (c) => `\\${c}`);
  return o === "co" ? `%${e}%` : o === "sw" ? `${e}%` : `%${e}`;
}

/** A text[] path, each step a bound parameter (no array-literal quoting to get wrong). */
function jsonPath(steps: readonly JsonStep[]): SQL {
  if (steps.length === 0) return sql`'{}'::text[]`;
  const items = steps.map((s) => (typeof s === "string" ? sql`${s}::text` : sql`(${s.index})::text`));
  return sql`ARRAY[${sql.join(items, sql`, `)}]`;
}

const value = (at: JsonAt): SQL => sql`(${at.doc} #> ${at.path})`;
const text = (at: JsonAt): SQL => sql`(${at.doc} #>> ${at.path})`;
type JsonType = "string" | "number" | "boolean" | "object" | "array";
const typeIs = (at: JsonAt, t: JsonType): SQL => sql`coalesce(jsonb_typeof(${value(at)}) = ${sql.raw(`'${t}'`)}, false)`;

// match.ts isPresent: `.**` visits the value and every member and element below it (lax mode would
// also unwrap arrays; strict visits each once). jsonb_path_exists is NULL for a missing value.
const PRESENT = `strict $.** ? (@.type() == "number" || @.type() == "boolean" || (@.type() == "string" && @ != ""))`;

const json: JsonDialect = {
  at: (doc, steps) => ({ doc, path: jsonPath(steps) }),
  present: (at) => sql`coalesce(jsonb_path_exists(${value(at)}, ${PRESENT}::jsonpath), false)`,
  isObject: (at) => typeIs(at, "object"),
  isBoolean: (at, b) => sql`coalesce(${value(at)} = ${b ? "true" : "false"}::jsonb, false)`,
  compareNumber: (at, o, n) => sql`CASE WHEN ${typeIs(at, "number")} THEN ${value(at)}::numeric ${op(o)} ${n} ELSE false END`,
  compareDateTime: (at, o, iso) =>
    sql`(${typeIs(at, "string")} AND coalesce(${collateC(normalizeDateTimeSql(text(at)))} ${op(o)} ${iso}, false))`,
  testString: (at, caseExact, cond) => sql`(${typeIs(at, "string")} AND ${cond(collateC(caseExact ? text(at) : sql`${FOLD}(${text(at)})`))})`,
  elements: (at) => {
    // jsonb_array_elements raises on a non-array, so it is given NULL (no rows) instead.
    const frame = sql`jsonb_array_elements(CASE WHEN ${typeIs(at, "array")} THEN ${value(at)} END) WITH ORDINALITY AS "je"("value", "key") WHERE true`;
    return {
      frame,
      order: (hasPrimary) =>
        hasPrimary ? sql`coalesce(("je"."value" -> 'primary') = 'true'::jsonb, false) DESC, "je"."key"` : sql`"je"."key"`,
      at: (name) => ({ doc: sql`"je"."value"`, path: jsonPath(name === undefined ? [] : [name]) }),
    };
  },
  sortValue: (at, t, caseExact) => {
    switch (t) {
      case "dateTime":
        return sql`CASE WHEN ${typeIs(at, "string")} THEN ${collateC(normalizeDateTimeSql(text(at)))} END`;
      case "integer":
      case "decimal":
        return sql`CASE WHEN ${typeIs(at, "number")} THEN ${value(at)}::numeric END`;
      case "boolean":
        return sql`CASE WHEN ${typeIs(at, "boolean")} THEN ${value(at)}::boolean END`;
      default:
        // RFC 7644 §3.4.2.3: caseExact=false attributes sort case-insensitively.
        return sql`CASE WHEN ${typeIs(at, "string")} THEN ${collateC(caseExact ? text(at) : sql`${FOLD}(${text(at)})`)} END`;
    }
  },
};

export const pgFilterDialect: FilterDialect = {
  name: "postgresql",
  tables: { users, groups, userEmails, groupMembers },
  truth: (b) => (b ? sql`true` : sql`false`),
  fold: (expr) => sql`${FOLD}(${expr})`,
  substring: (expr, o, v) => sql`${expr} LIKE ${likePattern(o, v)} ESCAPE '\\'`,
  compareText: (expr, o, v) => sql`${expr} ${op(o)} ${v}`,
  compareColumn: (expr, o, v) => sql`${expr} ${op(o)} ${v}`,
  // `=` alone is NULL on a NULL column; the guard makes it false and leaves `=` for the index.
  equalsNullable: (expr, v) => sql`(${expr} IS NOT NULL AND ${expr} = ${v})`,
  isBoolean: (expr, b) => (b ? sql`${expr} IS TRUE` : sql`${expr} IS FALSE`),
  columnPresent: (expr, isText) => (isText ? sql`(${expr} IS NOT NULL AND ${expr} <> '')` : sql`${expr} IS NOT NULL`),
  // PostgreSQL puts NULL first in DESC; SQLite's order has it last.
  flagDescending: (expr) => sql`${expr} DESC NULLS LAST`,
  sortText: collateC,
  // SQLite orders a group's members by rowid, i.e. insertion order; PostgreSQL has no rowid (ctid
  // changes on update and VACUUM FULL), so group_members.position, an identity column, records it.
  memberOrder: sql`"gm"."position"`,
  json,
};
