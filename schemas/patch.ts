/**
 * SCIM PATCH (RFC 7644 §3.5.2): a PatchOp body applied in memory to a resource's stored attributes.
 *
 * Pure: `current` is never mutated and nothing is read from the store. Values are written as the
 * client sent them (`"False"`, `"manager":"123"`); the caller runs the result through coercion,
 * checks immutable attributes (RFC 7643 §2.2: replace allowed only with an equal value) and required
 * ones. Group `members` never land in the attributes: they become membership deltas (memberOps), so
 * the caller never rewrites a whole group (scimmy-pitfalls.md, "PATCH hands over the whole resource").
 */
import { badRequest } from "./errors.js";
import { tooManyPatchOperations } from "./limits.js";
import { FilterError, type FilterNode } from "./filter/ast.js";
import { matchElement } from "./filter/match.js";
import { parseFilter } from "./filter/parse.js";
import type { AttributeDef, ResolvedPath, ResourceKind, SchemaRegistry } from "./registry.js";

export const PATCH_OP_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

export type MemberRef = { value: string; type?: "User" | "Group" };
export type MemberOp =
  | { op: "add"; members: MemberRef[] }
  | { op: "remove"; ids: string[] }
  | { op: "removeAll" }
  | { op: "removeWhere"; filter: FilterNode }; // rare: a members[...] filter other than value eq

export interface PatchResult {
  /** The new stored attributes (canonical names, client-dialect values). */
  attributes: Record<string, unknown>;
  /** Set when an operation wrote `password` (writeOnly, RFC 7643 §4.1.1); never left in attributes. */
  password?: string;
  /** Membership changes of a Group, in request order. */
  memberOps: MemberOp[];
}

type Obj = Record<string, unknown>;
type Op = "add" | "replace" | "remove";

/** What a path names: an attribute, optionally a sub-attribute, optionally narrowed by a value filter. */
interface Target {
  text: string;
  r: ResolvedPath;
  filter?: FilterNode;
  /** `name.givenName` or the `.value` after `emails[...]`. */
  sub?: AttributeDef;
}

interface State {
  registry: SchemaRegistry;
  kind: ResourceKind;
  limits: PatchLimits;
  attrs: Obj;
  password?: string;
  memberOps: MemberOp[];
  /**
   * The list the previous operation appended to and the canonical keys of its values. Only a
   * plain multi-valued add sets it and every operation clears it first (applyTarget), so it is
   * never stale: a run of `add emails` costs O(1) per operation, not a re-key of the whole list
   * (which made 10,000 operations quadratic).
   */
  addCache?: { list: unknown[]; keys: Set<string> } | undefined;
}

export interface PatchLimits {
  /** scim.limits.patchOperations: more operations are 413 before any is applied. */
  maxOperations?: number | undefined;
  /** scim.limits.filterDepth, for value filters in paths. */
  filterDepth?: number | undefined;
}

const isObject = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const lower = (s: string) => s.toLowerCase();
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
/** Entra sends booleans as "True"/"False" (idp-traffic.md §3), so `primary` may be either. */
const isTrue = (v: unknown) => v === true || (typeof v === "string" && lower(v) === "true");

/** Own key, else a case-insensitive match (RFC 7643 §2.1: attribute names are case-insensitive). */
function getCI(obj: Obj, key: string): { key: string; value: unknown } | undefined {
  if (key in obj) return { key, value: obj[key] };
  const hit = Object.keys(obj).find((k) => lower(k) === lower(key));
  return hit === undefined ? undefined : { key: hit, value: obj[hit] };
}

const invalidPath = (path: string, why: string) => badRequest("invalidPath", `Invalid PATCH path '${path}': ${why} (RFC 7644 §3.5.2)`);

/**
 * readOnly per the schema (RFC 7643 §2.2): id, meta (§3.1), groups (§4.1.2), manager.displayName (§4.3).
 * immutable is the caller's check (it may be written once, or rewritten with an equal value).
 */
const isReadOnly = (t: { r: ResolvedPath; sub?: AttributeDef }) => t.r.attr.mutability === "readOnly" || t.sub?.mutability === "readOnly";

/** Splits `emails[type eq "work"].value` into attribute path, filter text and trailing sub-attribute. */
function splitPath(text: string): { attrPath: string; filterText?: string; subName?: string } {
  const open = text.indexOf("[");
  if (open < 0) {
    if (text.includes("]")) throw invalidPath(text, "']' without '['");
    return { attrPath: text };
  }
  let i = open + 1;
  let inString = false;
  for (; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "[") throw invalidPath(text, "nested '[' (RFC 7644 §3.4.2.2 valFilter)");
    else if (c === "]") break;
  }
  if (i >= text.length) throw invalidPath(text, "unbalanced '['");
  const rest = text.slice(i + 1);
  if (rest !== "" && !/^\.[A-Za-z$][\w$-]*$/.test(rest)) throw invalidPath(text, `unexpected '${rest}' after ']'`);
  return { attrPath: text.slice(0, open), filterText: text.slice(open + 1, i), subName: rest === "" ? undefined : rest.slice(1) };
}

/**
 * Resolves a path (RFC 7644 §3.5.2: `attrPath / valuePath [subAttr]`). Returns `{urn}` for a bare
 * extension URN, undefined for an unknown attribute (the caller decides: 400 or tolerated).
 * A filter that does not parse is 400 invalidFilter: RFC 7644 §3.12 Table 9 lists invalidFilter
 * for "PATCH (Path Filter)"; a path that is malformed around the filter is invalidPath.
 */
function resolveTarget(s: State, text: string): { target: Target } | { urn: string } | undefined {
  const { attrPath, filterText, subName } = splitPath(text.trim());
  if (filterText === undefined) {
    const urn = s.registry.extensionUrn(s.kind, attrPath);
    if (urn) return { urn };
  }
  const r = s.registry.resolve(s.kind, attrPath);
  if (!r) return undefined;
  if (filterText === undefined) return { target: { text, r, sub: r.sub } };
  if (r.sub || !r.attr.multiValued) throw invalidPath(text, "a value filter applies only to a multi-valued attribute");
  const filter = asInvalidFilter(text, () => parseFilter(filterText, { maxDepth: s.limits.filterDepth }));
  if (subName === undefined) return { target: { text, r, filter } };
  const sub = r.attr.subAttributes?.find((x) => lower(x.name) === lower(subName));
  return sub ? { target: { text, r, filter, sub } } : undefined;
}

/** Complex values get canonical sub-attribute names; readOnly ones (manager.displayName) are dropped. */
function shape(r: ResolvedPath, v: unknown): unknown {
  if (r.attr.type !== "complex" || !isObject(v)) return v;
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) {
    const sub = r.attr.subAttributes?.find((d) => lower(d.name) === lower(k));
    if (sub?.mutability === "readOnly") continue;
    out[sub ? sub.name : k] = x;
  }
  return out;
}

/** Order-insensitive structural key, for "already contains the value" (RFC 7644 §3.5.2.1). */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (isObject(v)) {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(",")}}`;
  }
  return JSON.stringify(v) ?? "undefined";
}

/** The object holding `r`'s attribute: the resource, or its extension object (created on write). */
function container(s: State, r: ResolvedPath, create: boolean): Obj | undefined {
  if (!r.extension) return s.attrs;
  const existing = s.attrs[r.schema];
  if (isObject(existing)) return existing;
  if (!create) return undefined;
  const fresh: Obj = {};
  s.attrs[r.schema] = fresh;
  return fresh;
}

/** Stores a list, or unassigns the attribute when it is empty (RFC 7643 §2.5: [] means unassigned). */
function putList(obj: Obj, key: string, list: unknown[]): void {
  if (list.length > 0) obj[key] = list;
  else delete obj[key];
}

/** A FilterError while parsing or applying a path filter is 400 invalidFilter (RFC 7644 §3.12 Table 9). */
function asInvalidFilter<T>(text: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof FilterError) throw badRequest("invalidFilter", `Invalid filter in PATCH path '${text}': ${e.message}`);
    throw e;
  }
}

/** Merges sub-attributes into a complex value; a null sub-attribute value unassigns it (RFC 7643 §2.5). */
function merge(base: unknown, patch: Obj): Obj {
  const out: Obj = { ...(isObject(base) ? base : {}), ...patch };
  for (const [k, v] of Object.entries(out)) if (v === null) delete out[k];
  return out;
}

/**
 * RFC 7644 §3.5.2: setting one value's "primary" to true SHALL set it to false on the others.
 * With `keys` (canonical keys of `list`), the keys of demoted values are kept current.
 */
function demoteOtherPrimaries(attr: AttributeDef, list: unknown[], written: unknown[], keys?: Set<string>): void {
  if (!attr.subAttributes?.some((d) => d.name === "primary")) return;
  if (!written.some((w) => isObject(w) && isTrue(w.primary))) return;
  const mine = new Set(written);
  for (const el of list) {
    if (!isObject(el) || mine.has(el) || !isTrue(el.primary)) continue;
    keys?.delete(canonicalJson(el));
    el.primary = false;
    keys?.add(canonicalJson(el));
  }
}

/** `type eq "work"`: the one filter from which an add can build the missing element. */
function simpleTypeEq(f: FilterNode): string | undefined {
  return f.kind === "compare" && f.op === "eq" && lower(f.path) === "type" && typeof f.value === "string" ? f.value : undefined;
}

/** Applies one operation to an attribute target (not members, not password). */
function applyToAttribute(s: State, op: Op, t: Target, value: unknown, hasValue: boolean, cache?: State["addCache"]): void {
  const { r } = t;
  const key = r.attr.name;
  const obj = container(s, r, op !== "remove");
  if (!obj) return; // remove from an extension that is not there: nothing to do

  if (t.filter) return applyFiltered(op, t, t.filter, obj, value);

  if (t.sub) {
    const subKey = t.sub.name;
    const elements = r.attr.multiValued ? asArray(obj[key]).filter(isObject) : isObject(obj[key]) ? [obj[key] as Obj] : [];
    if (op === "remove") {
      for (const el of elements) delete el[subKey];
      if (!r.attr.multiValued && elements[0] && Object.keys(elements[0]).length === 0) delete obj[key];
      return;
    }
    // `name.givenName`, or `emails.type` without a filter: every element (none yet: create one).
    if (elements.length === 0) {
      if (value === null) return;
      obj[key] = r.attr.multiValued ? [{ [subKey]: value }] : { [subKey]: value };
      return;
    }
    for (const el of elements) {
      if (value === null) delete el[subKey];
      else el[subKey] = value;
    }
    return;
  }

  if (op === "remove") {
    // Entra's `remove` with a value array (its member form, idp-traffic.md §3) on another multi-valued
    // attribute removes only the values given, rather than the whole attribute.
    if (r.attr.multiValued && hasValue && value !== null && obj[key] !== undefined) {
      const doomed = new Set((Array.isArray(value) ? value : [value]).map((v) => canonicalJson(shape(r, v))));
      putList(obj, key, asArray(obj[key]).filter((el) => !doomed.has(canonicalJson(el))));
    } else delete obj[key];
    return;
  }

  // RFC 7643 §2.5: null (or [] for a multi-valued attribute) is the same as unassigned.
  if (value === null || (r.attr.multiValued && Array.isArray(value) && value.length === 0)) {
    if (op === "replace" || value === null) delete obj[key];
    return;
  }
  if (r.attr.multiValued) {
    const items = (Array.isArray(value) ? value : [value]).map((v) => shape(r, v));
    // replace: "the attribute and all values are replaced" (§3.5.2.3); add appends (§3.5.2.1).
    // The list the previous add built is this request's own: appended to in place, keys reused.
    const hit = op === "add" && cache !== undefined && cache.list === obj[key];
    const list = op === "replace" ? [] : hit ? cache.list : [...asArray(obj[key])];
    const seen = hit ? cache.keys : new Set(list.map(canonicalJson));
    const written: unknown[] = [];
    for (const item of items) {
      const k = canonicalJson(item);
      if (seen.has(k)) continue; // §3.5.2.1: already contains the value, no change
      seen.add(k);
      list.push(item);
      written.push(item);
    }
    if (op === "add") demoteOtherPrimaries(r.attr, list, written, seen);
    obj[key] = list;
    s.addCache = { list, keys: seen };
    return;
  }
  const shaped = shape(r, value);
  // A complex value merges: "Sub-attributes that are not specified in the value parameter are left
  // unchanged" (§3.5.2.3; §3.5.2.1 likewise). A non-object (Entra's "manager":"123") is set as given.
  obj[key] = r.attr.type === "complex" && isObject(shaped) ? merge(obj[key], shaped) : shaped;
}

/** `emails[type eq "work"]` and `emails[type eq "work"].value`. */
function applyFiltered(op: Op, t: Target, filter: FilterNode, obj: Obj, value: unknown): void {
  const { r, sub } = t;
  const key = r.attr.name;
  const list = [...asArray(obj[key])];
  // matchElement also takes a simple multi-valued attribute's element, which `value` names itself.
  const hit = asInvalidFilter(t.text, () => list.filter((el) => matchElement(el as Obj, filter, r.attr)));

  if (op === "remove") {
    // §3.5.2.2: matched values (or their sub-attribute) are removed; no match is a no-op.
    if (sub) for (const el of hit) if (isObject(el)) delete el[sub.name];
    putList(obj, key, sub ? list : list.filter((el) => !hit.includes(el)));
    return;
  }

  if (hit.length === 0) {
    // Entra sends `Add emails[type eq "work"].value` for a user that has no work email yet and
    // expects it created (https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups).
    const type = simpleTypeEq(filter);
    if (value === null) return; // nothing to unassign
    if (op === "add" && type !== undefined) {
      const body = sub ? { [sub.name]: value } : shape(r, value);
      if (!isObject(body)) throw badRequest("invalidValue", `'${t.text}' needs an object value`);
      const created = { type, ...body };
      list.push(created);
      demoteOtherPrimaries(r.attr, list, [created]);
      obj[key] = list;
      return;
    }
    // §3.5.2.3: "no record match was made ... 400 ... noTarget" (add reads the same way).
    throw badRequest("noTarget", `No value of '${r.attr.name}' matches '${t.text}' (RFC 7644 §3.5.2.3)`);
  }

  const written: unknown[] = [];
  for (const el of hit) {
    const i = list.indexOf(el);
    if (sub) {
      if (!isObject(el)) continue;
      if (value === null) delete el[sub.name];
      else el[sub.name] = value;
      written.push(el);
      continue;
    }
    // §3.5.2.3: "all matching record values SHALL be replaced"; add merges sub-attributes into them.
    const shaped = shape(r, value);
    const next = op === "add" && isObject(shaped) ? merge(el, shaped) : shaped;
    list[i] = next;
    written.push(next);
  }
  const cleaned = list.filter((el) => el !== null);
  demoteOtherPrimaries(r.attr, cleaned, written);
  putList(obj, key, cleaned);
}

/** Member value entries: a string `value` (RFC 7643 §4.2); `display` and `$ref` are dropped. */
function parseMembers(text: string, value: unknown): MemberRef[] {
  const out: MemberRef[] = [];
  for (const entry of Array.isArray(value) ? value : [value]) {
    const v = isObject(entry) ? getCI(entry, "value")?.value : undefined;
    if (typeof v !== "string" || v === "") {
      throw badRequest("invalidValue", `Each member in '${text}' needs a string 'value' (RFC 7643 §4.2)`);
    }
    if (out.some((m) => m.value === v)) continue;
    const type = getCI(entry as Obj, "type")?.value;
    const t = typeof type === "string" ? ({ user: "User", group: "Group" } as const)[lower(type) as "user" | "group"] : undefined;
    out.push(t ? { value: v, type: t } : { value: v });
  }
  return out;
}

/** `value eq "id"` or an `or` of them: the ids it names, else undefined. */
function valueEqIds(f: FilterNode): string[] | undefined {
  if (f.kind === "compare") return f.op === "eq" && lower(f.path) === "value" && typeof f.value === "string" ? [f.value] : undefined;
  if (f.kind !== "or") return undefined;
  const l = valueEqIds(f.left);
  const r = valueEqIds(f.right);
  return l && r ? [...l, ...r] : undefined;
}

/** Group `members`: membership deltas, never attributes. */
function applyToMembers(s: State, op: Op, t: Target, value: unknown, hasValue: boolean): void {
  if (t.sub) throw invalidPath(t.text, "members are changed as a whole or by a value filter, not by sub-attribute");
  const byFilter = (f: FilterNode): MemberOp => {
    const ids = valueEqIds(f);
    return ids ? { op: "remove", ids } : { op: "removeWhere", filter: f };
  };
  if (op === "remove") {
    if (t.filter) s.memberOps.push(byFilter(t.filter)); // Okta; Entra with aadOptscim062020
    else if (!hasValue || value === null) s.memberOps.push({ op: "removeAll" }); // §3.5.2.2
    else {
      // Entra's default: path "members" plus the members to remove as a value array
      // (https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups).
      const ids = parseMembers(t.text, value).map((m) => m.value);
      if (ids.length > 0) s.memberOps.push({ op: "remove", ids });
    }
    return;
  }
  const members = value === null ? [] : parseMembers(t.text, value);
  // replace: "the attribute and all values are replaced" (§3.5.2.3), which is what Okta's
  // `replace members []` (clear) and PingFederate's overwrite-memberships semantics rely on. A
  // filtered replace drops the matched members first; noTarget cannot be checked here (no members).
  if (op === "replace") s.memberOps.push(t.filter ? byFilter(t.filter) : { op: "removeAll" });
  if (members.length > 0) s.memberOps.push({ op: "add", members });
}

function applyTarget(s: State, op: Op, t: Target, value: unknown, hasValue: boolean): void {
  const cache = s.addCache;
  s.addCache = undefined;
  const { attr } = t.r;
  if (!t.r.extension && s.kind === "Group" && attr.name === "members") return applyToMembers(s, op, t, value, hasValue);
  if (!t.r.extension && s.kind === "User" && attr.name === "password") {
    if (op === "remove") throw badRequest("mutability", "password can be replaced but not removed");
    if (typeof value !== "string") throw badRequest("invalidValue", "password must be a string");
    s.password = value;
    return;
  }
  applyToAttribute(s, op, t, value, hasValue, cache);
}

/** An explicit path: unknown is invalidPath, readOnly is mutability (RFC 7644 §3.5.2, §3.12). */
function applyWithPath(s: State, op: Op, path: string, value: unknown, hasValue: boolean): void {
  const res = resolveTarget(s, path);
  if (!res) throw invalidPath(path, "no such attribute");
  // A bare extension URN as path: treat its value as that extension's attributes (tolerance).
  if ("urn" in res) {
    if (op === "remove") {
      delete s.attrs[res.urn];
      return;
    }
    return applyWithoutPath(s, op, { [res.urn]: value });
  }
  const t = res.target;
  if (isReadOnly(t)) {
    throw badRequest("mutability", `'${path}' is readOnly (RFC 7643 §2.2) and cannot be modified`);
  }
  applyTarget(s, op, t, value, hasValue);
}

/**
 * add/replace without path (§3.5.2.1, §3.5.2.3): keys are attribute paths (Entra sends `name.givenName`
 * and `urn:...:User:employeeNumber`), or an extension URN holding an object of its attributes.
 * readOnly keys (Okta's rename sends `id`; clients echo `meta`, `groups`, `schemas`) and unknown keys
 * are ignored rather than rejected (idp-traffic.md §5; PingFederate 1.6 sends non-standard enterprise
 * fields): a value object is a resource snapshot, not a list of targets the client chose one by one.
 */
function applyWithoutPath(s: State, op: Op, value: unknown): void {
  if (!isObject(value)) {
    throw badRequest("invalidValue", `'${op}' without a path needs an object value of attributes (RFC 7644 §3.5.2)`);
  }
  for (const [key, v] of Object.entries(value)) {
    if (lower(key) === "schemas") continue;
    const res = resolveTarget(s, key);
    if (!res) continue;
    if ("urn" in res) {
      if (v === null) {
        if (op === "replace") delete s.attrs[res.urn];
        continue;
      }
      if (!isObject(v)) throw badRequest("invalidValue", `'${key}' must be an object of extension attributes`);
      for (const [k2, v2] of Object.entries(v)) {
        const inner = resolveTarget(s, `${res.urn}:${k2}`);
        if (inner && "target" in inner && !isReadOnly(inner.target)) {
          applyTarget(s, op, inner.target, v2, true);
        }
      }
      continue;
    }
    const t = res.target;
    if (isReadOnly(t)) continue;
    applyTarget(s, op, t, v, true);
  }
}

/**
 * Applies a PatchOp body (RFC 7644 §3.5.2) to `current` (stored attributes) for resource `kind`.
 * @throws ScimError 400 with the RFC 7644 §3.12 scimType for a body, path or value it cannot apply.
 */
export function applyPatch(registry: SchemaRegistry, kind: ResourceKind, current: Record<string, unknown>, body: unknown, limits: PatchLimits = {}): PatchResult {
  if (!isObject(body)) throw badRequest("invalidSyntax", "PATCH body must be a JSON object (RFC 7644 §3.5.2)");
  // A missing `schemas` is tolerated (no client relies on the check); a wrong one is rejected.
  const schemas = getCI(body, "schemas")?.value;
  if (schemas !== undefined) {
    const list = typeof schemas === "string" ? [schemas] : Array.isArray(schemas) ? schemas : [];
    if (!list.some((x) => typeof x === "string" && lower(x) === lower(PATCH_OP_URN))) {
      throw badRequest("invalidSyntax", `PATCH 'schemas' must contain ${PATCH_OP_URN} (RFC 7644 §3.5.2)`);
    }
  }
  // `operations` (lower case) is sent by some clients; RFC 7643 §2.1 names are case-insensitive.
  const ops = getCI(body, "Operations")?.value;
  if (!Array.isArray(ops)) throw badRequest("invalidSyntax", "PATCH body needs an 'Operations' array (RFC 7644 §3.5.2)");
  // Refused before any work: the cost of a PATCH grows with its operations.
  if (limits.maxOperations !== undefined && ops.length > limits.maxOperations) throw tooManyPatchOperations(ops.length, limits.maxOperations);

  const s: State = { registry, kind, limits, attrs: structuredClone(current), memberOps: [] };
  // An empty Operations array is a no-op: Entra sends one (scimmy-pitfalls.md).
  ops.forEach((raw, i) => {
    if (!isObject(raw)) throw badRequest("invalidSyntax", `Operations[${i}] must be an object`);
    const opName = getCI(raw, "op")?.value;
    // Entra capitalises: "Replace"/"Add"/"Remove" (idp-traffic.md §3).
    const op = typeof opName === "string" ? lower(opName) : undefined;
    if (op !== "add" && op !== "replace" && op !== "remove") {
      throw badRequest("invalidSyntax", `Operations[${i}].op must be add, replace or remove, not ${JSON.stringify(opName)}`);
    }
    const rawPath = getCI(raw, "path")?.value;
    if (rawPath !== undefined && rawPath !== null && typeof rawPath !== "string") {
      throw badRequest("invalidPath", `Operations[${i}].path must be a string`);
    }
    const path = typeof rawPath === "string" && rawPath.trim() !== "" ? rawPath.trim() : undefined;
    const valueEntry = getCI(raw, "value");
    const hasValue = valueEntry !== undefined;
    if (op !== "remove" && !hasValue) {
      throw badRequest("invalidValue", `Operations[${i}] (${op}) needs a 'value' (RFC 7644 §3.5.2.1, §3.5.2.3)`);
    }
    if (path !== undefined) applyWithPath(s, op, path, valueEntry?.value, hasValue);
    else if (op === "remove") throw badRequest("noTarget", `Operations[${i}] (remove) needs a 'path' (RFC 7644 §3.5.2.2)`);
    else applyWithoutPath(s, op, valueEntry?.value);
  });

  // An extension object an operation emptied (or created and left empty) is unassigned (RFC 7643 §2.5).
  for (const e of registry.resourceType(kind).extensions) {
    const v = s.attrs[e.schema.id];
    if (isObject(v) && Object.keys(v).length === 0) delete s.attrs[e.schema.id];
  }
  const result: PatchResult = { attributes: s.attrs, memberOps: s.memberOps };
  if (s.password !== undefined) result.password = s.password;
  return result;
}
