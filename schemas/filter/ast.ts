/**
 * The SCIM filter AST (RFC 7644 §3.4.2.2). Produced by parse.ts; consumed by db/filter-sql.ts
 * (lists answered in SQL), match.ts (rules and PATCH value filters, in memory). Attribute paths
 * are kept as written; consumers resolve them case-insensitively through the schema registry.
 */

export type CompareOp = "eq" | "ne" | "co" | "sw" | "ew" | "gt" | "ge" | "lt" | "le";

export type FilterValue = string | number | boolean | null;

export type FilterNode =
  | { kind: "and"; left: FilterNode; right: FilterNode }
  | { kind: "or"; left: FilterNode; right: FilterNode }
  | { kind: "not"; expr: FilterNode }
  /** `path op value`; path is `attr`, `attr.sub` or URN-qualified (`urn:...:User:manager.value`). */
  | { kind: "compare"; path: string; op: CompareOp; value: FilterValue }
  /** `path pr` */
  | { kind: "present"; path: string }
  /**
   * `attr[filter]`: `filter`'s paths are relative to the elements of the complex attribute `attr`,
   * and all of it must hold for one and the same element (RFC 7644 §3.4.2.2, valuePath).
   */
  | { kind: "valuePath"; path: string; filter: FilterNode };

/** Thrown by the parser and by compilers for a filter that cannot be answered: 400 invalidFilter. */
export class FilterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FilterError";
  }
}
