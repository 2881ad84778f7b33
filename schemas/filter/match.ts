/**
 * In-memory evaluation of a SCIM filter (RFC 7644 §3.4.2.2), for rules (hooks/) and PATCH value
 * filters. The semantics are exactly those of db/filter-sql.ts, and the shared pieces (operand
 * coercion, presence, dateTime normalisation) live here so both sides use one definition:
 *
 * - strings fold case (schemas/fold.ts) when caseExact=false (RFC 7643 §2.2), and order by code point,
 *   which is how SQLite's BINARY collation orders UTF-8;
 * - on a multi-valued attribute a test holds when any value satisfies it; `ne` is `not eq` and
 *   `eq null` is `not pr`, so `ne` on a missing attribute is true;
 * - a complex attribute compared without a sub-attribute compares its `value` (RFC 7643 §2.4;
 *   PingFederate's workEmail identifier sends `emails eq "x"`, idp-traffic.md §1.2);
 * - `pr` is false for null, "", [] and objects with no present values (RFC 7644 §3.4.2.2 "pr").
 *
 * One deliberate difference: an unknown attribute is simply false here (a rule must not crash on a
 * resource), while the SQL compiler rejects it with FilterError (400 invalidFilter).
 */
import { fold } from "../fold.js";
import type { AttributeDef, ResolvedPath, ResourceKind, SchemaRegistry } from "../registry.js";
import { FilterError, type CompareOp, type FilterNode, type FilterValue } from "./ast.js";

/** A filter value coerced to the attribute's type; strings are already folded when caseExact=false. */
export type Operand =
  | { type: "string"; value: string }
  | { type: "number"; value: number }
  | { type: "boolean"; value: boolean }
  | { type: "dateTime"; value: string };

/** A test with its negation hoisted out: `ne x` is `not (eq x)`, `eq null` is `not pr`. */
export type PositiveTest = { op: "pr" } | { op: Exclude<CompareOp, "ne">; operand: Operand };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** RFC 7644 §3.4.2.2 `pr`: has a non-empty value; containers count when any member does. */
export function isPresent(v: unknown): boolean {
  if (v === null || v === undefined) return false;
  if (typeof v === "string") return v !== "";
  if (Array.isArray(v)) return v.some(isPresent);
  if (isObject(v)) return Object.values(v).some(isPresent);
  return true;
}

const DATE_TIME = /^(\d{4}-\d{2}-\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?([Zz]|[+-]\d{2}:\d{2})?$/;

/**
 * Normalises an xsd:dateTime (RFC 7643 §2.3.5) to `YYYY-MM-DDTHH:mm:ss.sssZ`, the form the store
 * keeps, so instants compare as strings. A missing offset means UTC (JavaScript would otherwise
 * read it as local time). Returns undefined for anything else.
 */
export function normalizeDateTime(s: string): string | undefined {
  const m = DATE_TIME.exec(s);
  if (!m) return undefined;
  const [, date, hh = "00", mm = "00", ss = "00", frac = "", offset = "Z"] = m;
  const ms = Date.parse(`${date}T${hh}:${mm}:${ss}.${(frac + "000").slice(0, 3)}${offset.toUpperCase()}`);
  if (Number.isNaN(ms)) return undefined;
  const iso = new Date(ms).toISOString();
  // Date.parse rolls 2024-02-30 over to March; a date that does not survive the round trip is invalid.
  if (offset.toUpperCase() === "Z" && iso.slice(0, 10) !== date) return undefined;
  return iso;
}

/**
 * Coerces a filter value to `def`'s type for `op` (never `ne`/null, see positiveTest).
 * @throws FilterError when the operator or value cannot apply to the attribute's type.
 */
export function operandFor(def: AttributeDef, op: CompareOp, value: string | number | boolean): Operand {
  const name = def.name;
  const substring = op === "co" || op === "sw" || op === "ew";
  switch (def.type) {
    case "boolean": {
      if (op !== "eq" && op !== "ne") throw new FilterError(`Operator '${op}' cannot apply to boolean attribute '${name}'`);
      // Entra sends booleans as the strings "True"/"False" (idp-traffic.md §3); accept them here too.
      const b = typeof value === "string" ? ({ true: true, false: false } as Record<string, boolean>)[value.toLowerCase()] : value;
      if (typeof b !== "boolean") throw new FilterError(`'${name}' is boolean; ${JSON.stringify(value)} is not`);
      return { type: "boolean", value: b };
    }
    case "integer":
    case "decimal": {
      if (substring) throw new FilterError(`Operator '${op}' cannot apply to numeric attribute '${name}'`);
      const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
      if (typeof n !== "number" || !Number.isFinite(n)) throw new FilterError(`'${name}' is numeric; ${JSON.stringify(value)} is not`);
      return { type: "number", value: n };
    }
    case "dateTime": {
      if (substring) throw new FilterError(`Operator '${op}' cannot apply to dateTime attribute '${name}'`);
      const d = typeof value === "string" ? normalizeDateTime(value) : undefined;
      if (d === undefined) throw new FilterError(`'${name}' is a dateTime; ${JSON.stringify(value)} is not (RFC 7643 §2.3.5)`);
      return { type: "dateTime", value: d };
    }
    case "complex":
      throw new FilterError(`Complex attribute '${name}' cannot be compared; name a sub-attribute`);
    default: {
      // string, reference, binary. A bare number (`employeeNumber eq 701984`) means its text.
      const s = String(value);
      return { type: "string", value: def.caseExact ? s : fold(s) };
    }
  }
}

/** Splits a test into its positive form and whether to negate it (see PositiveTest). */
export function positiveTest(
  def: AttributeDef,
  test: { op: "pr" } | { op: CompareOp; value: FilterValue },
): { negate: boolean; test: PositiveTest } {
  if (test.op === "pr") return { negate: false, test: { op: "pr" } };
  if (test.value === null) {
    if (test.op === "eq") return { negate: true, test: { op: "pr" } };
    if (test.op === "ne") return { negate: false, test: { op: "pr" } };
    throw new FilterError(`Operator '${test.op}' cannot compare with null`);
  }
  const negate = test.op === "ne";
  const op = negate ? "eq" : (test.op as Exclude<CompareOp, "ne">);
  return { negate, test: { op, operand: operandFor(def, op, test.value) } };
}

/** Code-point order, which is SQLite's BINARY order on UTF-8 (JavaScript's `<` uses UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}

function ordered(op: Exclude<CompareOp, "ne">, c: number): boolean {
  switch (op) {
    case "eq":
      return c === 0;
    case "gt":
      return c > 0;
    case "ge":
      return c >= 0;
    case "lt":
      return c < 0;
    case "le":
      return c <= 0;
    default:
      return false;
  }
}

/** One stored scalar against a positive comparison. Values of the wrong JSON type never match. */
function compareScalar(def: AttributeDef, test: Exclude<PositiveTest, { op: "pr" }>, stored: unknown): boolean {
  const { op, operand } = test;
  switch (operand.type) {
    case "boolean":
      return typeof stored === "boolean" && stored === operand.value;
    case "number":
      return typeof stored === "number" && ordered(op, stored - operand.value);
    case "dateTime": {
      const d = typeof stored === "string" ? normalizeDateTime(stored) : undefined;
      return d !== undefined && ordered(op, compareCodePoints(d, operand.value));
    }
    case "string": {
      if (typeof stored !== "string") return false;
      const s = def.caseExact ? stored : fold(stored);
      if (op === "co") return s.includes(operand.value);
      if (op === "sw") return s.startsWith(operand.value);
      if (op === "ew") return s.endsWith(operand.value);
      return ordered(op, compareCodePoints(s, operand.value));
    }
  }
}

function holds(def: AttributeDef, test: PositiveTest, values: unknown[]): boolean {
  if (test.op === "pr") return values.some(isPresent);
  return values.some((v) => compareScalar(def, test, v));
}

/** One known value against a positive test (the SQL compiler folds constants such as meta.resourceType with it). */
export function testValue(def: AttributeDef, test: PositiveTest, value: unknown): boolean {
  return holds(def, test, [value]);
}

/** Own property, else a case-insensitive match (RFC 7643 §2.1: attribute names are case-insensitive). */
function getCI(obj: unknown, key: string): unknown {
  if (!isObject(obj)) return undefined;
  if (key in obj) return obj[key];
  const lower = key.toLowerCase();
  const hit = Object.keys(obj).find((k) => k.toLowerCase() === lower);
  return hit === undefined ? undefined : obj[hit];
}

const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/**
 * The definition a sub-attribute is compared with. `groups.value` and `members.value` hold resource
 * ids, which are caseExact (RFC 7643 §3.1) whatever scimmy's schema says, so the SQL side can use the
 * membership table's indexes; both sides use this one rule.
 */
export function leafDef(attr: AttributeDef, sub: AttributeDef): AttributeDef {
  if ((attr.name === "groups" || attr.name === "members") && sub.name === "value" && !sub.caseExact) {
    return { ...sub, caseExact: true };
  }
  return sub;
}

/**
 * The sub-attribute `name` of `attr` (case-insensitive). For a simple multi-valued attribute, `value`
 * names the element itself (RFC 7644 §3.4.2.2 uses `value` that way in valuePath filters).
 */
export function subAttribute(attr: AttributeDef, name: string): AttributeDef | undefined {
  if (attr.type !== "complex") return name.toLowerCase() === "value" ? { ...attr, multiValued: false } : undefined;
  const sub = attr.subAttributes?.find((s) => s.name.toLowerCase() === name.toLowerCase());
  return sub && leafDef(attr, sub);
}

/** The `value` sub-attribute a bare complex attribute stands for in a comparison (RFC 7643 §2.4). */
export function valueSubAttribute(attr: AttributeDef): AttributeDef {
  const sub = attr.subAttributes?.find((s) => s.name === "value");
  if (!sub) throw new FilterError(`Complex attribute '${attr.name}' has no 'value' to compare; name a sub-attribute`);
  return leafDef(attr, sub);
}

/** The values of one element's sub-attribute; a non-object element has none. */
function subValues(element: unknown, attr: AttributeDef, sub: AttributeDef): unknown[] {
  if (attr.type !== "complex") return [element];
  if (!isObject(element)) return [];
  const v = getCI(element, sub.name);
  return sub.multiValued ? asArray(v) : [v];
}

/**
 * Evaluates `node` against one element of the complex multi-valued attribute `attr` (PATCH value
 * filters such as `members[value eq "x"]`); paths in `node` are sub-attribute names of `attr`.
 */
export function matchElement(element: Record<string, unknown>, node: FilterNode, attr: AttributeDef): boolean {
  return evalElement(element, node, attr);
}

function evalElement(element: unknown, node: FilterNode, attr: AttributeDef): boolean {
  switch (node.kind) {
    case "and":
      return evalElement(element, node.left, attr) && evalElement(element, node.right, attr);
    case "or":
      return evalElement(element, node.left, attr) || evalElement(element, node.right, attr);
    case "not":
      return !evalElement(element, node.expr, attr);
    case "valuePath":
      throw new FilterError(`Nested value filter '${node.path}[...]' is not allowed (RFC 7644 §3.4.2.2)`);
    default: {
      const sub = subAttribute(attr, node.path);
      if (!sub) return false;
      const { negate, test } = positiveTest(sub, node.kind === "present" ? { op: "pr" } : node);
      return negate !== holds(sub, test, subValues(element, attr, sub));
    }
  }
}

interface Ctx {
  registry: SchemaRegistry;
  kind: ResourceKind;
  resource: Record<string, unknown>;
}

/** The attribute's own value; meta.resourceType falls back to the kind, as the SQL side assumes. */
function topValue(ctx: Ctx, r: ResolvedPath): unknown {
  const container = r.extension ? getCI(ctx.resource, r.schema) : ctx.resource;
  const v = getCI(container, r.attr.name);
  if (!r.extension && r.attr.name === "meta" && r.sub?.name === "resourceType" && getCI(v, "resourceType") === undefined) {
    return { ...(isObject(v) ? v : {}), resourceType: ctx.kind };
  }
  return v;
}

function evalResource(ctx: Ctx, node: FilterNode): boolean {
  switch (node.kind) {
    case "and":
      return evalResource(ctx, node.left) && evalResource(ctx, node.right);
    case "or":
      return evalResource(ctx, node.left) || evalResource(ctx, node.right);
    case "not":
      return !evalResource(ctx, node.expr);
    case "valuePath": {
      const r = ctx.registry.resolve(ctx.kind, node.path);
      if (!r) return false;
      if (r.sub) throw new FilterError(`A value filter applies to an attribute, not '${node.path}'`);
      const v = topValue(ctx, r);
      const elements = r.attr.multiValued ? asArray(v) : isObject(v) ? [v] : [];
      return elements.some((e) => evalElement(e, node.filter, r.attr));
    }
    default: {
      const r = ctx.registry.resolve(ctx.kind, node.path);
      if (!r) return false;
      const v = topValue(ctx, r);
      if (!r.sub && (node.kind === "present" || r.attr.type !== "complex")) {
        // The attribute itself: `emails pr`, `userName eq "x"`, `extensionTags eq "x"` (multi-valued simple).
        const def = { ...r.attr, multiValued: false };
        const { negate, test } = positiveTest(def, node.kind === "present" ? { op: "pr" } : node);
        const values = r.attr.multiValued && test.op !== "pr" ? asArray(v) : [v];
        return negate !== holds(def, test, values);
      }
      const sub = r.sub ? leafDef(r.attr, r.sub) : valueSubAttribute(r.attr);
      const elements = r.attr.multiValued ? asArray(v) : [v];
      const values = elements.flatMap((e) => subValues(e, r.attr, sub));
      const { negate, test } = positiveTest(sub, node.kind === "present" ? { op: "pr" } : node);
      return negate !== holds(sub, test, values);
    }
  }
}

/**
 * Evaluates a filter against a whole resource in wire shape (id, meta, groups, members may be
 * present), with the same semantics as the SQL compiler (db/filter-sql.ts).
 * @throws FilterError for a test that cannot apply to the attribute's type (e.g. `active gt true`).
 */
export function matchesFilter(
  registry: SchemaRegistry,
  kind: ResourceKind,
  resource: Record<string, unknown>,
  node: FilterNode,
): boolean {
  return evalResource({ registry, kind, resource }, node);
}
