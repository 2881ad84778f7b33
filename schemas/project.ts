/**
 * Shaping a rendered resource for output: the `attributes` / `excludedAttributes` parameters
 * (RFC 7644 §3.9, §3.4.2.5) and the `returned` characteristic (RFC 7643 §2.4, §7), plus the
 * multi-valued echo PingFederate depends on.
 *
 * Unlike scimmy, which drops `schemas` and `meta` when `attributes=` is given, `schemas` is always
 * kept here: RFC 7643 §3 makes it part of every representation, and clients key on it.
 */
import type { AttributeDef, ResourceKind, SchemaRegistry } from "./registry.js";

/** The two RFC 7644 §3.9 query parameters, already split into attribute paths. */
export interface ProjectionOptions {
  attributes?: string[] | undefined;
  excludedAttributes?: string[] | undefined;
}

type Json = Record<string, unknown>;

/** What a parameter names inside one attribute: all of it, or some of its sub-attributes. */
interface Pick {
  /** The attribute itself was named (or its schema URN, see `explicit`). */
  whole: boolean;
  /** False when `whole` comes from naming the schema URN, not the attribute itself. */
  explicit: boolean;
  /** Lower-cased sub-attribute names. */
  subs: Set<string>;
}

/** A parsed `attributes` or `excludedAttributes` list. Keys are lower-cased names / canonical URNs. */
interface Selection {
  core: Map<string, Pick>;
  coreSchema: boolean;
  ext: Map<string, { whole: boolean; attrs: Map<string, Pick> }>;
}

const lower = (s: string) => s.toLowerCase();
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const findAttr = (pool: readonly AttributeDef[] | undefined, name: string) =>
  pool?.find((a) => lower(a.name) === lower(name));
const SCHEMA_WHOLE: Pick = { whole: true, explicit: false, subs: new Set() };

/**
 * Splits the comma-separated `attributes` / `excludedAttributes` query parameter (RFC 7644 §3.9).
 * A repeated parameter (`?attributes=a&attributes=b`) is merged. Empty → undefined.
 */
export function parseAttributeList(param: string | string[] | undefined): string[] | undefined {
  if (param === undefined) return undefined;
  const list = (Array.isArray(param) ? param : [param])
    .filter((p): p is string => typeof p === "string")
    .flatMap((p) => p.split(","))
    .map((p) => p.trim())
    .filter((p) => p !== "");
  return list.length > 0 ? list : undefined;
}

/**
 * Names are case-insensitive (RFC 7643 §2.1) and may be `attr`, `attr.sub`, URN-qualified
 * (`urn:...:enterprise:2.0:User:manager.value`) or a bare schema URN (the whole extension).
 * Names that resolve to nothing are ignored: asking for an attribute we don't have is not an error.
 */
function compileSelection(registry: SchemaRegistry, kind: ResourceKind, names: readonly string[]): Selection {
  const sel: Selection = { core: new Map(), coreSchema: false, ext: new Map() };
  const extOf = (urn: string) => {
    let e = sel.ext.get(urn);
    if (!e) sel.ext.set(urn, (e = { whole: false, attrs: new Map() }));
    return e;
  };
  for (const name of names) {
    const urn = registry.extensionUrn(kind, name);
    if (urn !== undefined) {
      extOf(urn).whole = true;
      continue;
    }
    if (lower(name) === lower(registry.resourceType(kind).core.id)) {
      sel.coreSchema = true;
      continue;
    }
    const r = registry.resolve(kind, name);
    if (!r) continue;
    const pool = r.extension ? extOf(r.schema).attrs : sel.core;
    let pick = pool.get(lower(r.attr.name));
    if (!pick) pool.set(lower(r.attr.name), (pick = { whole: false, explicit: true, subs: new Set() }));
    if (r.sub) pick.subs.add(lower(r.sub.name));
    else pick.whole = true;
  }
  return sel;
}

/**
 * Whether sub-attribute `sub` (undefined: not in the schema) of an attribute is output, given what
 * `attributes` asked for (`inc`, undefined when the parameter was not given) and what
 * `excludedAttributes` named (`exc`).
 */
function keepSub(sub: AttributeDef | undefined, name: string, inc: Pick | undefined, exc: Pick | undefined, including: boolean): boolean {
  const returned = sub?.returned ?? "default";
  if (returned === "never") return false;
  if (returned === "always") return true;
  if (exc?.subs.has(lower(name))) return false;
  if (!including) return returned !== "request";
  if (inc?.subs.has(lower(name))) return true;
  // Naming the attribute itself names its sub-attributes; a schema URN names only the default ones.
  return inc !== undefined && inc.whole && (inc.explicit || returned !== "request");
}

/** Keeps the chosen sub-attributes of a complex value (or of each element); undefined if none remain. */
function filterComplex(def: AttributeDef, value: unknown, keep: (sub: AttributeDef | undefined, name: string) => boolean): unknown {
  const one = (el: unknown): unknown => {
    if (!isObject(el)) return el;
    const out: Json = {};
    for (const [k, v] of Object.entries(el)) if (keep(findAttr(def.subAttributes, k), k)) out[k] = v;
    return Object.keys(out).length > 0 ? out : undefined;
  };
  if (!Array.isArray(value)) return one(value);
  const items = value.map(one).filter((x) => x !== undefined);
  return items.length > 0 ? items : undefined;
}

/**
 * One top-level (or extension-level) attribute under the RFC 7643 §7 `returned` rules and the
 * RFC 7644 §3.9 parameters. Returns undefined when it is not output.
 */
function projectAttr(def: AttributeDef | undefined, value: unknown, inc: Pick | undefined, exc: Pick | undefined, including: boolean): unknown {
  const returned = def?.returned ?? "default";
  if (returned === "never") return undefined;
  if (returned === "always") return value;
  if (including) {
    if (!inc) return undefined;
    // returned=request: only when named itself (RFC 7643 §7), not via its schema's URN.
    if (returned === "request" && !inc.explicit) return undefined;
    if (!inc.whole && inc.subs.size === 0) return undefined;
  } else if (returned === "request") {
    return undefined;
  }
  // RFC 7644 §3.9: excludedAttributes has no effect on returned=always (handled above).
  if (exc?.whole) return undefined;
  if (def?.type !== "complex") return value;
  return filterComplex(def, value, (sub, name) => keepSub(sub, name, inc, exc, including));
}

/**
 * Applies RFC 7644 §3.9 `attributes` / `excludedAttributes` and RFC 7643 §2.4 `returned` to a
 * rendered resource. `schemas` and `id` are always kept; `meta` is kept unless excluded or unless
 * `attributes` is given without it. Extensions left empty are pruned (see emptyExtensionsPruned).
 * When both lists are given, `attributes` selects and `excludedAttributes` then removes.
 */
export function projectResource(
  registry: SchemaRegistry,
  kind: ResourceKind,
  resource: Record<string, unknown>,
  opts: ProjectionOptions,
): Record<string, unknown> {
  const including = opts.attributes !== undefined && opts.attributes.length > 0;
  const inc = compileSelection(registry, kind, including ? (opts.attributes ?? []) : []);
  const exc = compileSelection(registry, kind, opts.excludedAttributes ?? []);
  const coreAttrs = registry.coreAttributes(kind);
  const out: Json = {};

  for (const [key, value] of Object.entries(resource)) {
    if (lower(key) === "schemas") {
      out[key] = value;
      continue;
    }
    const urn = registry.extensionUrn(kind, key);
    if (urn !== undefined) {
      const projected = projectExtension(registry, urn, value, inc, exc, including);
      if (projected !== undefined) out[key] = projected;
      continue;
    }
    const def = findAttr(coreAttrs, key);
    if (!def) {
      // Not in the schema (nothing the renderer emits today): cannot be named, so only default output.
      if (!including) out[key] = value;
      continue;
    }
    const incPick = inc.core.get(lower(def.name)) ?? (inc.coreSchema ? SCHEMA_WHOLE : undefined);
    const v = projectAttr(def, value, incPick, exc.core.get(lower(def.name)), including);
    if (v !== undefined) out[key] = v;
  }
  return emptyExtensionsPruned(registry, kind, out);
}

function projectExtension(registry: SchemaRegistry, urn: string, value: unknown, inc: Selection, exc: Selection, including: boolean): unknown {
  const excExt = exc.ext.get(urn);
  if (!isObject(value)) return including || excExt?.whole ? undefined : value;
  const incExt = inc.ext.get(urn);
  const attrs = registry.schema(urn)?.attributes;
  const out: Json = {};
  for (const [k, v] of Object.entries(value)) {
    const def = findAttr(attrs, k);
    const name = lower(def?.name ?? k);
    const incPick = incExt?.attrs.get(name) ?? (incExt?.whole ? SCHEMA_WHOLE : undefined);
    // Excluding the URN excludes each attribute, so returned=always ones still survive (RFC 7644 §3.9).
    const excPick = excExt?.whole ? SCHEMA_WHOLE : excExt?.attrs.get(name);
    const projected = def ? projectAttr(def, v, incPick, excPick, including) : including || excExt?.whole ? undefined : v;
    if (projected !== undefined) out[k] = projected;
  }
  return out;
}

/**
 * Drops extension objects that are empty and lists in `schemas` only the extensions present
 * (RFC 7643 §3: `schemas` names the schemas of the attributes present). Core and unknown URNs stay.
 */
export function emptyExtensionsPruned(registry: SchemaRegistry, kind: ResourceKind, resource: Record<string, unknown>): Record<string, unknown> {
  const out: Json = {};
  const present = new Set<string>();
  for (const [key, value] of Object.entries(resource)) {
    const urn = registry.extensionUrn(kind, key);
    if (urn !== undefined) {
      if (value === undefined || value === null || (isObject(value) && Object.keys(value).length === 0)) continue;
      present.add(lower(urn));
    }
    out[key] = value;
  }
  const schemasKey = Object.keys(out).find((k) => lower(k) === "schemas");
  const schemas = schemasKey === undefined ? undefined : out[schemasKey];
  if (schemasKey !== undefined && Array.isArray(schemas)) {
    out[schemasKey] = schemas.filter((s) => typeof s !== "string" || registry.extensionUrn(kind, s) === undefined || present.has(lower(s)));
  }
  return out;
}

/**
 * Gives every element of a complex multi-valued attribute that has a `primary` sub-attribute an
 * explicit `primary` (false when not stored). PingFederate mis-applies updates when `type` and
 * `primary` are not returned
 * (https://docs.pingidentity.com/integrations/scim/release_notes/pf_scim_connector_known_issues_and_limitations.html).
 * `type` is echoed as stored and never invented: the client did not say which type it meant.
 */
export function normaliseMultiValuedForOutput(
  registry: SchemaRegistry,
  kind: ResourceKind,
  resource: Record<string, unknown>,
): Record<string, unknown> {
  const withPrimary = (defs: readonly AttributeDef[] | undefined, obj: Json): Json => {
    const out: Json = { ...obj };
    for (const [k, v] of Object.entries(obj)) {
      const def = findAttr(defs, k);
      if (!def?.multiValued || def.type !== "complex" || !findAttr(def.subAttributes, "primary") || !Array.isArray(v)) continue;
      out[k] = v.map((el: unknown) => (isObject(el) && typeof el.primary !== "boolean" ? { ...el, primary: false } : el));
    }
    return out;
  };
  const out = withPrimary(registry.coreAttributes(kind), resource);
  for (const [key, value] of Object.entries(out)) {
    const urn = registry.extensionUrn(kind, key);
    if (urn !== undefined && isObject(value)) out[key] = withPrimary(registry.schema(urn)?.attributes, value);
  }
  return out;
}
