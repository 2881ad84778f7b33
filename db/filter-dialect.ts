/**
 * What the SCIM filter compiler (db/filter-sql.ts) needs from an SQL engine. The compiler decides
 * what is compared with what (schemas/filter/match.ts semantics); a dialect only says how each
 * piece is spelled: JSON access, case-sensitive substring tests, the fold function, booleans, the
 * tables. Every predicate a dialect returns is two-valued (never NULL), so the compiler's `not` is
 * exact; values are always bound parameters.
 */
import type { Column, SQL, Table } from "drizzle-orm";
import type { PositiveTest } from "../schemas/filter/match.js";

/** An ordering or equality operator after negation was hoisted out (PositiveTest). */
export type OrderOp = "eq" | "gt" | "ge" | "lt" | "le";
export type SubstringOp = "co" | "sw" | "ew";

export const SQL_OPS: Record<OrderOp, string> = { eq: "=", gt: ">", ge: ">=", lt: "<", le: "<=" };

/** Narrows a positive comparison's operator to an ordering one (`co`/`sw`/`ew` are handled first). */
export const orderOp = (test: Exclude<PositiveTest, { op: "pr" }>): OrderOp => test.op as OrderOp;

/** One step of a JSON path: a member name, or an array index computed in SQL. */
export type JsonStep = string | { index: SQL };

/** A JSON value's location: a document expression and a dialect-specific path expression. */
export interface JsonAt {
  readonly doc: SQL;
  readonly path: SQL;
}

/** The elements of a JSON array, as a FROM frame of a subquery. */
export interface JsonElements {
  /** FROM … WHERE …: the compiler appends `AND (cond)`. */
  frame: SQL;
  /** Primary element first when `hasPrimary`, then array order (RFC 7644 §3.4.2.3 sorting). */
  order(hasPrimary: boolean): SQL;
  /** The element itself (no name) or its member `name`. */
  at(name?: string): JsonAt;
}

/** The columns the compiler reads, by their drizzle property names (both schemas use the same SQL names). */
export interface FilterTables {
  users: Table & Record<"id" | "externalId" | "userNameKey" | "displayNameKey" | "active" | "data" | "created" | "lastModified", Column>;
  groups: Table & Record<"id" | "externalId" | "displayNameKey" | "data" | "created" | "lastModified", Column>;
  userEmails: Table;
  groupMembers: Table;
}

export interface FilterDialect {
  readonly name: string;
  readonly tables: FilterTables;
  /** A constant predicate. */
  truth(value: boolean): SQL;
  /** fold() of a text expression (schemas/fold.ts): the SQL function scim_fold. */
  fold(expr: SQL): SQL;
  /** Case-sensitive `co`/`sw`/`ew` on a text expression, the value's wildcards taken literally. */
  substring(expr: SQL, op: SubstringOp, value: string): SQL;
  /** `expr op value` on text, ordered by code point (SQLite's BINARY order). */
  compareText(expr: SQL, op: OrderOp, value: string): SQL;
  /** `expr op value` on a typed column (dates, numbers). */
  compareColumn(expr: SQL, op: OrderOp, value: string | number): SQL;
  /** `expr = value` on a nullable text column, false (not NULL) for NULL, and index-friendly. */
  equalsNullable(expr: SQL, value: string): SQL;
  /** A nullable boolean column is `value` (false for NULL). */
  isBoolean(expr: SQL, value: boolean): SQL;
  /** `pr` on a column (RFC 7644 §3.4.2.2): not NULL, and not "" for a text column. */
  columnPresent(expr: SQL, text: boolean): SQL;
  /** A boolean flag for `ORDER BY … DESC` with NULL (no flag) after false. */
  flagDescending(expr: SQL): SQL;
  /** The sort key of a text expression: code-point order. */
  sortText(expr: SQL): SQL;
  /** Group members in insertion order (`members` sorts by its first member). */
  readonly memberOrder: SQL;
  readonly json: JsonDialect;
}

export interface JsonDialect {
  /** The value at `steps` below `doc`. */
  at(doc: SQL, steps: readonly JsonStep[]): JsonAt;
  /** match.ts isPresent: some leaf below is a number, a boolean or a non-empty string. */
  present(at: JsonAt): SQL;
  /** The value is a JSON object. */
  isObject(at: JsonAt): SQL;
  /** The value is the JSON boolean `value`. */
  isBoolean(at: JsonAt, value: boolean): SQL;
  /** The value is a JSON number and `op value` holds. */
  compareNumber(at: JsonAt, op: OrderOp, value: number): SQL;
  /** The value is a JSON string holding a dateTime whose UTC normal form is `op value`. */
  compareDateTime(at: JsonAt, op: OrderOp, value: string): SQL;
  /** The value is a JSON string and `cond(text)` holds, text folded unless `caseExact`. */
  testString(at: JsonAt, caseExact: boolean, cond: (text: SQL) => SQL): SQL;
  /** The elements of the array at `at` (none when it is not an array). */
  elements(at: JsonAt): JsonElements;
  /** The sort key of a value of SCIM type `type`; NULL when missing or of another JSON type. */
  sortValue(at: JsonAt, type: string, caseExact: boolean): SQL;
}
