/**
 * SCIM filter -> SQL WHERE clause, and sortBy -> ORDER BY key (design.md decision 5), written once
 * against a dialect (db/filter-dialect.ts): SQLite (the default) or PostgreSQL.
 *
 * The semantics are those of schemas/filter/match.ts (the test suite runs one table of filters
 * through both engines and the matcher): caseExact=false strings compare folded via scim_fold() or
 * the folded key columns, a multi-valued test holds when some element satisfies it, `ne` is
 * `not eq`. Every predicate produced here is two-valued (never NULL), so `not` is exact. Values are
 * always bound parameters.
 *
 * Where the data lives (db/schema.ts): id, externalId, userName, displayName, active and meta dates
 * are columns; a User's emails also have their own indexed rows; group membership is its own table;
 * everything else is JSON in `data`, under the extension's URN key for extension attributes.
 */
import { sql, type SQL } from "drizzle-orm";
import { FilterError, type FilterNode } from "../schemas/filter/ast.js";
import {
  leafDef,
  positiveTest,
  subAttribute,
  testValue,
  valueSubAttribute,
  type PositiveTest,
} from "../schemas/filter/match.js";
import type { AttributeDef, ResolvedPath, ResourceKind, SchemaRegistry } from "../schemas/registry.js";
import { orderOp, type FilterDialect, type JsonAt, type JsonStep } from "./filter-dialect.js";
import { sqliteFilterDialect } from "./filter-dialect-sqlite.js";

/** How one scalar is read in SQL. */
type Reader =
  /** A typed column or expression; `folded` when it already holds fold(value) (the *_key columns). */
  | { kind: "column"; expr: SQL; nullable: boolean; folded: boolean }
  /** A JSON value. */
  | { kind: "json"; at: JsonAt }
  /** Known without looking (meta.resourceType, groups.type). */
  | { kind: "const"; value: unknown }
  /** Always present but not comparable in SQL (meta.location/version, $ref: built at render time). */
  | { kind: "opaque"; name: string };

/** The elements of a multi-valued (or complex) attribute. */
interface Source {
  /** True when some element satisfies `cond`. */
  exists(cond: SQL): SQL;
  /** The primary element's (else the first element's) `value`, for sorting (RFC 7644 §3.4.2.3). */
  first(value: SQL): SQL;
  reader(sub: AttributeDef): Reader;
}

interface Ctx {
  registry: SchemaRegistry;
  kind: ResourceKind;
  d: FilterDialect;
}

const substringOp = (op: string): op is "co" | "sw" | "ew" => op === "co" || op === "sw" || op === "ew";

function noSubstring(def: AttributeDef, op: string): void {
  if (substringOp(op)) throw new FilterError(`Operator '${op}' cannot apply to '${def.name}'`);
}

function compilePositive(d: FilterDialect, def: AttributeDef, reader: Reader, test: PositiveTest): SQL {
  if (reader.kind === "const") return d.truth(testValue(def, test, reader.value));
  if (reader.kind === "opaque") {
    if (test.op === "pr") return d.truth(true);
    throw new FilterError(`'${reader.name}' cannot be used in a filter comparison`);
  }
  if (reader.kind === "json") return compileJson(d, def, reader.at, test);
  const { expr, nullable } = reader;
  const guard = (cond: SQL): SQL => (nullable ? sql`(${expr} IS NOT NULL AND ${cond})` : cond);
  const text = def.type !== "boolean" && def.type !== "dateTime" && def.type !== "integer" && def.type !== "decimal";
  if (test.op === "pr") return d.columnPresent(expr, text);
  const { operand } = test;
  switch (operand.type) {
    case "boolean":
      return d.isBoolean(expr, operand.value);
    case "string": {
      const lhs = reader.folded || def.caseExact ? expr : d.fold(expr);
      if (substringOp(test.op)) return guard(d.substring(lhs, test.op, operand.value));
      const op = orderOp(test);
      if (op === "eq" && nullable) return d.equalsNullable(lhs, operand.value);
      return guard(d.compareText(lhs, op, operand.value));
    }
    default:
      noSubstring(def, test.op);
      return guard(d.compareColumn(expr, orderOp(test), operand.value));
  }
}

function compileJson(d: FilterDialect, def: AttributeDef, at: JsonAt, test: PositiveTest): SQL {
  if (test.op === "pr") return d.json.present(at);
  const { operand } = test;
  switch (operand.type) {
    case "boolean":
      return d.json.isBoolean(at, operand.value);
    case "number":
      noSubstring(def, test.op);
      return d.json.compareNumber(at, orderOp(test), operand.value);
    case "dateTime":
      noSubstring(def, test.op);
      return d.json.compareDateTime(at, orderOp(test), operand.value);
    case "string": {
      const { op } = test;
      if (substringOp(op)) return d.json.testString(at, def.caseExact, (lhs) => d.substring(lhs, op, operand.value));
      return d.json.testString(at, def.caseExact, (lhs) => d.compareText(lhs, orderOp(test), operand.value));
    }
  }
}

/** Where an attribute sits inside `data`: extension attributes under their URN key. */
const attrSteps = (r: ResolvedPath): string[] => (r.extension ? [r.schema, r.attr.name] : [r.attr.name]);

const tableOf = (ctx: Ctx) => (ctx.kind === "User" ? ctx.d.tables.users : ctx.d.tables.groups);

function resolve(ctx: Ctx, path: string): ResolvedPath {
  const r = ctx.registry.resolve(ctx.kind, path);
  if (!r) throw new FilterError(`Unknown attribute '${path}' for ${ctx.kind}`);
  return r;
}

/** Column readers for the core single-valued attributes that have one (db/schema.ts). */
function columnReader(ctx: Ctx, r: ResolvedPath, def: AttributeDef): Reader | undefined {
  if (r.extension) return undefined;
  const { users, groups } = ctx.d.tables;
  const t = tableOf(ctx);
  const name = r.sub ? `${r.attr.name}.${r.sub.name}` : r.attr.name;
  switch (name) {
    case "id":
      return { kind: "column", expr: sql`${t.id}`, nullable: false, folded: false };
    case "externalId":
      return { kind: "column", expr: sql`${t.externalId}`, nullable: true, folded: false };
    case "meta":
    case "meta.location":
    case "meta.version":
      return { kind: "opaque", name };
    case "meta.resourceType":
      return { kind: "const", value: ctx.kind };
    case "meta.created":
      return { kind: "column", expr: sql`${t.created}`, nullable: false, folded: false };
    case "meta.lastModified":
      return { kind: "column", expr: sql`${t.lastModified}`, nullable: false, folded: false };
    case "displayName":
      if (def.caseExact) return undefined;
      return ctx.kind === "User"
        ? { kind: "column", expr: sql`${users.displayNameKey}`, nullable: true, folded: true }
        : { kind: "column", expr: sql`${groups.displayNameKey}`, nullable: false, folded: true };
  }
  if (ctx.kind !== "User") return undefined;
  if (name === "userName" && !def.caseExact) return { kind: "column", expr: sql`${users.userNameKey}`, nullable: false, folded: true };
  if (name === "active") return { kind: "column", expr: sql`${users.active}`, nullable: true, folded: false };
  return undefined;
}
/** The reader for a single-valued attribute or a sub-attribute of a single-valued complex one. */
function singleReader(ctx: Ctx, r: ResolvedPath, def: AttributeDef): Reader {
  const column = columnReader(ctx, r, def);
  if (column) return column;
  if (def.multiValued) throw new FilterError(`Multi-valued sub-attribute '${r.canonical}' is not supported in filters`);
  const steps = r.sub ? [...attrSteps(r), r.sub.name] : attrSteps(r);
  return { kind: "json", at: ctx.d.json.at(sql`${tableOf(ctx).data}`, steps) };
}

/** A Source over rows of a membership or email table: `frame` is `<table> AS … WHERE …`. */
function rowSource(frame: SQL, order: SQL, reader: Source["reader"]): Source {
  return {
    exists: (cond) => sql`EXISTS (SELECT 1 FROM ${frame} AND (${cond}))`,
    first: (value) => sql`(SELECT ${value} FROM ${frame} ORDER BY ${order} LIMIT 1)`,
    reader,
  };
}

const column = (expr: SQL, nullable: boolean, folded = false): Reader => ({ kind: "column", expr, nullable, folded });

/** The element source of a multi-valued attribute (or of a single complex one, in a valuePath). */
function sourceOf(ctx: Ctx, r: ResolvedPath): Source {
  const { attr } = r;
  const { d } = ctx;
  const { users, groups, userEmails, groupMembers } = d.tables;
  const data = sql`${tableOf(ctx).data}`;
  const steps = attrSteps(r);
  if (!r.extension && ctx.kind === "User" && attr.name === "emails") {
    // One row per email (user_emails, position = index in data.emails): `emails.value eq` and
    // `emails eq` use user_emails_value_key. Sub-attributes without a column read the JSON element.
    const frame = sql`${userEmails} AS "ue" WHERE "ue"."user_id" = ${users.id}`;
    const position: JsonStep = { index: sql`"ue"."position"` };
    return rowSource(frame, sql`${d.flagDescending(sql`"ue"."primary"`)}, "ue"."position"`, (sub) =>
      sub.name === "value" && !sub.caseExact
        ? column(sql`"ue"."value_key"`, true, true)
        : sub.name === "type"
          ? column(sql`"ue"."type"`, true)
          : { kind: "json", at: d.json.at(data, ["emails", position, sub.name]) },
    );
  }
  if (!r.extension && ctx.kind === "User" && attr.name === "groups") {
    // A User's groups are derived from group_members (RFC 7643 §4.1.2); only direct memberships exist.
    const frame = sql`${groupMembers} AS "gm" JOIN ${groups} AS "g" ON "g"."id" = "gm"."group_id" WHERE "gm"."member_id" = ${users.id} AND "gm"."member_type" = 'User'`;
    return rowSource(frame, sql`"g"."seq"`, (sub) => {
      if (sub.name === "value") return column(sql`"gm"."group_id"`, false);
      if (sub.name === "display")
        return sub.caseExact ? column(sql`"g"."display_name"`, false) : column(sql`"g"."display_name_key"`, false, true);
      if (sub.name === "type") return { kind: "const", value: "direct" };
      return { kind: "opaque", name: `groups.${sub.name}` };
    });
  }
  if (!r.extension && ctx.kind === "Group" && attr.name === "members") {
    const frame = sql`${groupMembers} AS "gm" WHERE "gm"."group_id" = ${groups.id}`;
    return rowSource(frame, d.memberOrder, (sub) => {
      if (sub.name === "value") return column(sql`"gm"."member_id"`, false);
      if (sub.name === "type") return column(sql`"gm"."member_type"`, false);
      // members.display is kept with the membership row (db/resources.ts addMembers, memberDisplay).
      if (sub.name === "display") return column(sql`"gm"."display"`, true);
      return { kind: "opaque", name: `members.${sub.name}` };
    });
  }
  const at = d.json.at(data, steps);
  if (!attr.multiValued) {
    // A single complex attribute in a valuePath (`name[givenName eq "x"]`): one element, if an object.
    return {
      exists: (cond) => sql`(${d.json.isObject(at)} AND (${cond}))`,
      first: (value) => value,
      reader: (sub) => ({ kind: "json", at: d.json.at(data, [...steps, sub.name]) }),
    };
  }
  const elements = d.json.elements(at);
  const hasPrimary = attr.subAttributes?.some((s) => s.name === "primary") ?? false;
  return {
    exists: (cond) => sql`EXISTS (SELECT 1 FROM ${elements.frame} AND (${cond}))`,
    first: (value) => sql`(SELECT ${value} FROM ${elements.frame} ORDER BY ${elements.order(hasPrimary)} LIMIT 1)`,
    // A simple multi-valued attribute's `value` is the element itself (match.ts subAttribute).
    reader: (sub) => ({ kind: "json", at: elements.at(attr.type === "complex" ? sub.name : undefined) }),
  };
}

const negated = (negate: boolean, cond: SQL): SQL => (negate ? sql`(NOT (${cond}))` : cond);

function checkSub(sub: AttributeDef, where: string): AttributeDef {
  if (sub.multiValued) throw new FilterError(`Multi-valued sub-attribute '${where}' is not supported in filters`);
  return sub;
}

function compileLeaf(ctx: Ctx, node: Extract<FilterNode, { kind: "present" | "compare" }>): SQL {
  const r = resolve(ctx, node.path);
  const test = node.kind === "present" ? ({ op: "pr" } as const) : node;
  const { attr } = r;
  const { d } = ctx;
  if (!r.sub && (node.kind === "present" || attr.type !== "complex")) {
    if (!attr.multiValued) {
      const { negate, test: pos } = positiveTest(attr, test);
      return negated(negate, compilePositive(d, attr, singleReader(ctx, r, attr), pos));
    }
    if (node.kind === "present") {
      // groups/members live only in group_members; every other multi-valued attribute is in `data`.
      const derived = !r.extension && attr.name === (ctx.kind === "User" ? "groups" : "members");
      if (derived) return sourceOf(ctx, r).exists(d.truth(true));
      return d.json.present(d.json.at(sql`${tableOf(ctx).data}`, attrSteps(r)));
    }
  }
  const sub = checkSub(
    r.sub ? leafDef(attr, r.sub) : attr.type === "complex" ? valueSubAttribute(attr) : { ...attr, multiValued: false },
    r.canonical,
  );
  const { negate, test: pos } = positiveTest(sub, test);
  if (!attr.multiValued) return negated(negate, compilePositive(d, sub, singleReader(ctx, { ...r, sub }, sub), pos));
  const src = sourceOf(ctx, r);
  return negated(negate, src.exists(compilePositive(d, sub, src.reader(sub), pos)));
}

/** A filter inside `attr[...]`: paths are sub-attributes of one and the same element. */
function compileElement(d: FilterDialect, attr: AttributeDef, src: Source, node: FilterNode): SQL {
  switch (node.kind) {
    case "and":
      return sql`(${compileElement(d, attr, src, node.left)} AND ${compileElement(d, attr, src, node.right)})`;
    case "or":
      return sql`(${compileElement(d, attr, src, node.left)} OR ${compileElement(d, attr, src, node.right)})`;
    case "not":
      return sql`(NOT (${compileElement(d, attr, src, node.expr)}))`;
    case "valuePath":
      throw new FilterError(`Nested value filter '${node.path}[...]' is not allowed (RFC 7644 §3.4.2.2)`);
    default: {
      const found = subAttribute(attr, node.path);
      if (!found) throw new FilterError(`Unknown sub-attribute '${node.path}' of '${attr.name}'`);
      const sub = checkSub(found, `${attr.name}.${node.path}`);
      const { negate, test } = positiveTest(sub, node.kind === "present" ? { op: "pr" } : node);
      return negated(negate, compilePositive(d, sub, src.reader(sub), test));
    }
  }
}

function compileNode(ctx: Ctx, node: FilterNode): SQL {
  switch (node.kind) {
    case "and":
      return sql`(${compileNode(ctx, node.left)} AND ${compileNode(ctx, node.right)})`;
    case "or":
      return sql`(${compileNode(ctx, node.left)} OR ${compileNode(ctx, node.right)})`;
    case "not":
      return sql`(NOT (${compileNode(ctx, node.expr)}))`;
    case "valuePath": {
      const r = resolve(ctx, node.path);
      if (r.sub || (r.attr.type !== "complex" && !r.attr.multiValued)) {
        throw new FilterError(`A value filter needs a complex or multi-valued attribute, not '${node.path}'`);
      }
      // meta is not in `data` (it is columns), so `meta[...]` has no element to test; use meta.created etc.
      if (!r.extension && r.attr.name === "meta") throw new FilterError("Use meta.<sub-attribute> rather than meta[...]");
      const src = sourceOf(ctx, r);
      return src.exists(compileElement(ctx.d, r.attr, src, node.filter));
    }
    default:
      return compileLeaf(ctx, node);
  }
}

/**
 * Compiles a parsed filter to a WHERE clause over `users` (kind User) or `groups` (kind Group) of
 * the dialect's engine (SQLite unless given).
 * @throws FilterError for unknown attributes and tests the store cannot answer (400 invalidFilter).
 */
export function compileFilter(
  registry: SchemaRegistry,
  kind: ResourceKind,
  node: FilterNode,
  dialect: FilterDialect = sqliteFilterDialect,
): SQL {
  return compileNode({ registry, kind, d: dialect }, node);
}

function sortValue(d: FilterDialect, def: AttributeDef, reader: Reader): SQL {
  switch (reader.kind) {
    case "const":
      return sql`${String(reader.value)}`;
    case "opaque":
      throw new FilterError(`Cannot sort by '${reader.name}'`);
    case "column":
      if (reader.folded || def.caseExact || def.type !== "string") return reader.expr;
      return d.sortText(d.fold(reader.expr));
    case "json":
      return d.json.sortValue(reader.at, def.type, def.caseExact);
  }
}

/**
 * The ORDER BY key for `sortBy` (RFC 7644 §3.4.2.3): folded for caseExact=false, and for a
 * multi-valued attribute the primary value, else the first. Missing values are NULL: SQLite sorts
 * them first ascending, PostgreSQL last unless the caller says NULLS FIRST.
 * @throws FilterError for an unknown or unsortable attribute.
 */
export function compileSortKey(
  registry: SchemaRegistry,
  kind: ResourceKind,
  sortBy: string,
  dialect: FilterDialect = sqliteFilterDialect,
): SQL {
  const ctx: Ctx = { registry, kind, d: dialect };
  const r = resolve(ctx, sortBy.trim());
  const { attr } = r;
  const sub = r.sub ? leafDef(attr, r.sub) : attr.type === "complex" ? valueSubAttribute(attr) : undefined;
  if (!attr.multiValued) {
    if (!sub) return sortValue(dialect, attr, singleReader(ctx, r, attr));
    const rs: ResolvedPath = { ...r, sub };
    return sortValue(dialect, sub, singleReader(ctx, rs, checkSub(sub, r.canonical)));
  }
  const leaf = checkSub(sub ?? { ...attr, multiValued: false }, r.canonical);
  const src = sourceOf(ctx, r);
  return src.first(sortValue(dialect, leaf, src.reader(leaf)));
}
