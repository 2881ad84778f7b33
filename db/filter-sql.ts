/**
 * SCIM filter -> SQLite WHERE clause, and sortBy -> ORDER BY key (design.md decision 5).
 *
 * The semantics are those of schemas/filter/match.ts (the test suite runs one table of filters
 * through both): caseExact=false strings compare folded via scim_fold() or the folded key columns,
 * a multi-valued test holds when some element satisfies it, `ne` is `not eq`. Every predicate
 * produced here is two-valued (never NULL), so `not` is exact. Values are always bound parameters.
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
import { FOLD_SQL_FUNCTION } from "../schemas/fold.js";
import { groupMembers, groups, userEmails, users } from "./schema.js";

/** How one scalar is read in SQL. */
type Reader =
  /** A typed column or expression; `folded` when it already holds fold(value) (the *_key columns). */
  | { kind: "column"; expr: SQL; nullable: boolean; folded: boolean }
  /** A JSON value at `path` (an SQL expression yielding the path text) inside the document `doc`. */
  | { kind: "json"; doc: SQL; path: SQL }
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

const FOLD = sql.raw(FOLD_SQL_FUNCTION);
const ISO_FORMAT = "%Y-%m-%dT%H:%M:%fZ";
const OPS = { eq: "=", gt: ">", ge: ">=", lt: "<", le: "<=" } as const;

/** GLOB is case-sensitive (LIKE folds ASCII in SQLite, wrong for caseExact); escape its wildcards. */
function globPattern(op: "co" | "sw" | "ew", value: string): string {
  const e = value.replace(/[*?[]/g, (c) => `[${c}]`);
  return op === "co" ? `*${e}*` : op === "sw" ? `${e}*` : `*${e}`;
}

function jsonPresent(doc: SQL, path: SQL): SQL {
  // json_tree walks every descendant, so this is match.ts isPresent(): some non-null, non-"" leaf.
  return sql`EXISTS (SELECT 1 FROM json_tree(${doc}, ${path}) AS "jt" WHERE "jt"."type" IN ('integer', 'real', 'true', 'false') OR ("jt"."type" = 'text' AND "jt"."atom" <> ''))`;
}

function compilePositive(def: AttributeDef, reader: Reader, test: PositiveTest): SQL {
  if (reader.kind === "const") return testValue(def, test, reader.value) ? sql`1` : sql`0`;
  if (reader.kind === "opaque") {
    if (test.op === "pr") return sql`1`;
    throw new FilterError(`'${reader.name}' cannot be used in a filter comparison`);
  }
  if (reader.kind === "json") return compileJson(def, reader.doc, reader.path, test);
  const { expr, nullable } = reader;
  const guard = (cond: SQL): SQL => (nullable ? sql`(${expr} IS NOT NULL AND ${cond})` : cond);
  if (test.op === "pr") return sql`(${expr} IS NOT NULL AND ${expr} <> '')`;
  const { op, operand } = test;
  switch (operand.type) {
    case "boolean":
      return sql`${expr} IS ${operand.value ? 1 : 0}`;
    case "string": {
      const lhs = reader.folded || def.caseExact ? expr : sql`${FOLD}(${expr})`;
      if (op === "co" || op === "sw" || op === "ew") return guard(sql`${lhs} GLOB ${globPattern(op, operand.value)}`);
      // IS (not =) keeps a NULL column two-valued and still uses the index.
      if (op === "eq" && nullable) return sql`${lhs} IS ${operand.value}`;
      return guard(sql`${lhs} ${sql.raw(OPS[op])} ${operand.value}`);
    }
    default:
      if (op === "co" || op === "sw" || op === "ew") throw new FilterError(`Operator '${op}' cannot apply to '${def.name}'`);
      return guard(sql`${expr} ${sql.raw(OPS[op])} ${operand.value}`);
  }
}

function compileJson(def: AttributeDef, doc: SQL, path: SQL, test: PositiveTest): SQL {
  if (test.op === "pr") return jsonPresent(doc, path);
  const value = sql`json_extract(${doc}, ${path})`;
  const type = sql`json_type(${doc}, ${path})`;
  const { op, operand } = test;
  switch (operand.type) {
    case "boolean":
      return sql`${type} IS ${operand.value ? "true" : "false"}`;
    case "number":
      if (op === "co" || op === "sw" || op === "ew") throw new FilterError(`Operator '${op}' cannot apply to '${def.name}'`);
      return sql`(coalesce(${type}, '') IN ('integer', 'real') AND ${value} ${sql.raw(OPS[op])} ${operand.value})`;
    case "dateTime":
      if (op === "co" || op === "sw" || op === "ew") throw new FilterError(`Operator '${op}' cannot apply to '${def.name}'`);
      // strftime normalises an ISO value with an offset to UTC, like match.ts normalizeDateTime.
      return sql`(${type} IS 'text' AND coalesce(strftime(${ISO_FORMAT}, ${value}) ${sql.raw(OPS[op])} ${operand.value}, 0))`;
    case "string": {
      const lhs = def.caseExact ? value : sql`${FOLD}(${value})`;
      if (op === "co" || op === "sw" || op === "ew") {
        return sql`(${type} IS 'text' AND ${lhs} GLOB ${globPattern(op, operand.value)})`;
      }
      return sql`(${type} IS 'text' AND ${lhs} ${sql.raw(OPS[op])} ${operand.value})`;
    }
  }
}

const q = (name: string) => `."${name}"`;

interface Ctx {
  registry: SchemaRegistry;
  kind: ResourceKind;
}

const tableOf = (kind: ResourceKind) => (kind === "User" ? users : groups);

/** JSON path of an attribute inside `data`: extension attributes sit under their URN key. */
const attrPath = (r: ResolvedPath): string => `$${r.extension ? q(r.schema) : ""}${q(r.attr.name)}`;

function resolve(ctx: Ctx, path: string): ResolvedPath {
  const r = ctx.registry.resolve(ctx.kind, path);
  if (!r) throw new FilterError(`Unknown attribute '${path}' for ${ctx.kind}`);
  return r;
}

/** Column readers for the core single-valued attributes that have one (db/schema.ts). */
function columnReader(ctx: Ctx, r: ResolvedPath, def: AttributeDef): Reader | undefined {
  if (r.extension) return undefined;
  const t = tableOf(ctx.kind);
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
  const path = r.sub ? `${attrPath(r)}${q(r.sub.name)}` : attrPath(r);
  return { kind: "json", doc: sql`${tableOf(ctx.kind).data}`, path: sql`${path}` };
}

/** The element source of a multi-valued attribute (or of a single complex one, in a valuePath). */
function sourceOf(ctx: Ctx, r: ResolvedPath): Source {
  const { attr } = r;
  const data = sql`${tableOf(ctx.kind).data}`;
  const path = attrPath(r);
  if (!r.extension && ctx.kind === "User" && attr.name === "emails") {
    // One row per email (user_emails, position = index in data.emails): `emails.value eq` and
    // `emails eq` use user_emails_value_key. Sub-attributes without a column read the JSON element.
    const frame = sql`${userEmails} AS "ue" WHERE "ue"."user_id" = ${users.id}`;
    const elem = (name: string) => sql`${'$."emails"['} || "ue"."position" || ${`]${q(name)}`}`;
    return {
      exists: (cond) => sql`EXISTS (SELECT 1 FROM ${frame} AND (${cond}))`,
      first: (value) =>
        sql`(SELECT ${value} FROM ${frame} ORDER BY "ue"."primary" DESC, "ue"."position" LIMIT 1)`,
      reader: (sub) =>
        sub.name === "value" && !sub.caseExact
          ? { kind: "column", expr: sql`"ue"."value_key"`, nullable: true, folded: true }
          : sub.name === "type"
            ? { kind: "column", expr: sql`"ue"."type"`, nullable: true, folded: false }
            : { kind: "json", doc: data, path: elem(sub.name) },
    };
  }
  if (!r.extension && ctx.kind === "User" && attr.name === "groups") {
    // A User's groups are derived from group_members (RFC 7643 §4.1.2); only direct memberships exist.
    const frame = sql`${groupMembers} AS "gm" JOIN ${groups} AS "g" ON "g"."id" = "gm"."group_id" WHERE "gm"."member_id" = ${users.id} AND "gm"."member_type" = 'User'`;
    return {
      exists: (cond) => sql`EXISTS (SELECT 1 FROM ${frame} AND (${cond}))`,
      first: (value) => sql`(SELECT ${value} FROM ${frame} ORDER BY "g"."seq" LIMIT 1)`,
      reader: (sub): Reader => {
        if (sub.name === "value") return { kind: "column", expr: sql`"gm"."group_id"`, nullable: false, folded: false };
        if (sub.name === "display")
          return sub.caseExact
            ? { kind: "column", expr: sql`"g"."display_name"`, nullable: false, folded: false }
            : { kind: "column", expr: sql`"g"."display_name_key"`, nullable: false, folded: true };
        if (sub.name === "type") return { kind: "const", value: "direct" };
        return { kind: "opaque", name: `groups.${sub.name}` };
      },
    };
  }
  if (!r.extension && ctx.kind === "Group" && attr.name === "members") {
    const frame = sql`${groupMembers} AS "gm" WHERE "gm"."group_id" = ${groups.id}`;
    // members.display is kept with the membership row (db/resources.ts addMembers, memberDisplay).
    const display = sql`"gm"."display"`;
    return {
      exists: (cond) => sql`EXISTS (SELECT 1 FROM ${frame} AND (${cond}))`,
      first: (value) => sql`(SELECT ${value} FROM ${frame} ORDER BY "gm"."rowid" LIMIT 1)`,
      reader: (sub): Reader => {
        if (sub.name === "value") return { kind: "column", expr: sql`"gm"."member_id"`, nullable: false, folded: false };
        if (sub.name === "type") return { kind: "column", expr: sql`"gm"."member_type"`, nullable: false, folded: false };
        if (sub.name === "display") return { kind: "column", expr: display, nullable: true, folded: false };
        return { kind: "opaque", name: `members.${sub.name}` };
      },
    };
  }
  if (!attr.multiValued) {
    // A single complex attribute in a valuePath (`name[givenName eq "x"]`): one element, if an object.
    return {
      exists: (cond) => sql`(json_type(${data}, ${path}) IS 'object' AND (${cond}))`,
      first: (value) => value,
      reader: (sub) => ({ kind: "json", doc: data, path: sql`${path + q(sub.name)}` }),
    };
  }
  const frame = sql`json_each(${data}, ${path}) AS "je" WHERE json_type(${data}, ${path}) IS 'array'`;
  const hasPrimary = attr.subAttributes?.some((s) => s.name === "primary") ?? false;
  // SQLite cannot see outer columns in a subquery's ORDER BY, so read `primary` from the element itself.
  const order = hasPrimary
    ? sql`(CASE WHEN "je"."type" = 'object' THEN json_extract("je"."value", '$.primary') END IS 1) DESC, "je"."key"`
    : sql`"je"."key"`;
  return {
    exists: (cond) => sql`EXISTS (SELECT 1 FROM ${frame} AND (${cond}))`,
    first: (value) => sql`(SELECT ${value} FROM ${frame} ORDER BY ${order} LIMIT 1)`,
    // A simple multi-valued attribute's `value` is the element itself (match.ts subAttribute).
    reader: (sub) => ({
      kind: "json",
      doc: data,
      path: attr.type === "complex" ? sql`"je"."fullkey" || ${q(sub.name)}` : sql`"je"."fullkey"`,
    }),
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
  if (!r.sub && (node.kind === "present" || attr.type !== "complex")) {
    if (!attr.multiValued) {
      const { negate, test: pos } = positiveTest(attr, test);
      return negated(negate, compilePositive(attr, singleReader(ctx, r, attr), pos));
    }
    if (node.kind === "present") {
      // groups/members live only in group_members; every other multi-valued attribute is in `data`.
      const derived = !r.extension && attr.name === (ctx.kind === "User" ? "groups" : "members");
      if (derived) return sourceOf(ctx, r).exists(sql`1`);
      return jsonPresent(sql`${tableOf(ctx.kind).data}`, sql`${attrPath(r)}`);
    }
  }
  const sub = checkSub(
    r.sub ? leafDef(attr, r.sub) : attr.type === "complex" ? valueSubAttribute(attr) : { ...attr, multiValued: false },
    r.canonical,
  );
  const { negate, test: pos } = positiveTest(sub, test);
  if (!attr.multiValued) return negated(negate, compilePositive(sub, singleReader(ctx, { ...r, sub }, sub), pos));
  const src = sourceOf(ctx, r);
  return negated(negate, src.exists(compilePositive(sub, src.reader(sub), pos)));
}

/** A filter inside `attr[...]`: paths are sub-attributes of one and the same element. */
function compileElement(attr: AttributeDef, src: Source, node: FilterNode): SQL {
  switch (node.kind) {
    case "and":
      return sql`(${compileElement(attr, src, node.left)} AND ${compileElement(attr, src, node.right)})`;
    case "or":
      return sql`(${compileElement(attr, src, node.left)} OR ${compileElement(attr, src, node.right)})`;
    case "not":
      return sql`(NOT (${compileElement(attr, src, node.expr)}))`;
    case "valuePath":
      throw new FilterError(`Nested value filter '${node.path}[...]' is not allowed (RFC 7644 §3.4.2.2)`);
    default: {
      const found = subAttribute(attr, node.path);
      if (!found) throw new FilterError(`Unknown sub-attribute '${node.path}' of '${attr.name}'`);
      const sub = checkSub(found, `${attr.name}.${node.path}`);
      const { negate, test } = positiveTest(sub, node.kind === "present" ? { op: "pr" } : node);
      return negated(negate, compilePositive(sub, src.reader(sub), test));
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
      return src.exists(compileElement(r.attr, src, node.filter));
    }
    default:
      return compileLeaf(ctx, node);
  }
}

/**
 * Compiles a parsed filter to a WHERE clause over `users` (kind User) or `groups` (kind Group).
 * @throws FilterError for unknown attributes and tests the store cannot answer (400 invalidFilter).
 */
export function compileFilter(registry: SchemaRegistry, kind: ResourceKind, node: FilterNode): SQL {
  return compileNode({ registry, kind }, node);
}

function sortValue(def: AttributeDef, reader: Reader): SQL {
  switch (reader.kind) {
    case "const":
      return sql`${String(reader.value)}`;
    case "opaque":
      throw new FilterError(`Cannot sort by '${reader.name}'`);
    case "column":
      return reader.folded || def.caseExact || def.type !== "string" ? reader.expr : sql`${FOLD}(${reader.expr})`;
    case "json": {
      const value = sql`json_extract(${reader.doc}, ${reader.path})`;
      if (def.type === "dateTime") return sql`strftime(${ISO_FORMAT}, ${value})`;
      // RFC 7644 §3.4.2.3: caseExact=false attributes sort case-insensitively.
      return def.caseExact || def.type === "boolean" ? value : sql`${FOLD}(${value})`;
    }
  }
}

/**
 * The ORDER BY key for `sortBy` (RFC 7644 §3.4.2.3): folded for caseExact=false, and for a
 * multi-valued attribute the primary value, else the first. Missing values are NULL (SQLite sorts
 * them first ascending).
 * @throws FilterError for an unknown or unsortable attribute.
 */
export function compileSortKey(registry: SchemaRegistry, kind: ResourceKind, sortBy: string): SQL {
  const ctx = { registry, kind };
  const r = resolve(ctx, sortBy.trim());
  const { attr } = r;
  const sub = r.sub ? leafDef(attr, r.sub) : attr.type === "complex" ? valueSubAttribute(attr) : undefined;
  if (!attr.multiValued) {
    if (!sub) return sortValue(attr, singleReader(ctx, r, attr));
    const rs: ResolvedPath = { ...r, sub };
    return sortValue(sub, singleReader(ctx, rs, checkSub(sub, r.canonical)));
  }
  const leaf = checkSub(sub ?? { ...attr, multiValued: false }, r.canonical);
  const src = sourceOf(ctx, r);
  return src.first(sortValue(leaf, src.reader(leaf)));
}
