/**
 * Rule compilation and attribute mapping: a SCIM User (wire shape) becomes the entry a rule wants
 * in LDAP. Compiling happens once at start-up so bad paths and filters fail there, with the key
 * that holds them; mapping a user is then just reading paths and evaluating JSONata.
 */
import jsonata from "jsonata";
import type { AttributeDef, ResolvedPath, ResourceKind, SchemaRegistry } from "../../schemas/registry.js";
import type { FilterNode } from "../../schemas/filter/ast.js";
import { parseFilter } from "../../schemas/filter/parse.js";
import { matchElement, matchesFilter } from "../../schemas/filter/match.js";
import { parseDnTemplate, presetOf, type AttributeMapping, type DirectoryKind, type RuleActions, type UserRuleConfig } from "./config.js";
import { escapeDnValue, parseDn } from "../ldap/dn.js";
import { getPreset, type Preset } from "./presets.js";

type Resource = Record<string, unknown>;

/** A rule that cannot be compiled; `key` is the config key under the rule (`attributes.mail`, `dn`, `filter`). */
export class RuleError extends Error {
  constructor(
    readonly rule: string,
    readonly key: string,
    message: string,
  ) {
    super(`rule ${rule}, ${key}: ${message}`);
    this.name = "RuleError";
  }
}

/** A user that cannot be mapped by a rule (a DN placeholder without value, an expression that failed). */
export class MappingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MappingError";
  }
}

/** What a rule wants the user's entry to be. Mapped attributes with no value have `[]`. */
export interface MappedEntry {
  dn: string;
  attributes: Record<string, string[]>;
  active: boolean;
}

export interface CompiledPath {
  text: string;
  read(resource: Resource): unknown[];
}

export interface CompiledMapping {
  attribute: string;
  /** Where the mapping came from, for error messages: `attributes.mail` or `preset openldap mail`. */
  origin: string;
  read(resource: Resource): Promise<unknown[]> | unknown[];
}

export interface CompiledRule {
  name: string;
  target: string;
  preset: Preset;
  config: UserRuleConfig;
  registry: SchemaRegistry;
  filter?: FilterNode;
  dn: (string | CompiledPath)[];
  objectClasses: string[];
  mappings: CompiledMapping[];
  /** Lower-cased names of attributes that keep only their first value. */
  singleValued: Set<string>;
  actions: RuleActions;
  correlationAttribute?: string;
}

const lower = (s: string) => s.toLowerCase();
const isObject = (v: unknown): v is Resource => typeof v === "object" && v !== null && !Array.isArray(v);

/** Attribute names in stored resources are canonical, but tolerate other spellings (RFC 7643 §2.1). */
function getCI(obj: unknown, key: string): unknown {
  if (!isObject(obj)) return undefined;
  if (key in obj) return obj[key];
  const k = Object.keys(obj).find((x) => lower(x) === lower(key));
  return k === undefined ? undefined : obj[k];
}

/** Index of the `]` closing the `[` at `open`, skipping quoted strings (values may hold `]`) and nested pairs. */
function closingBracket(text: string, open: number): number {
  let quoted = false;
  let depth = 0;
  for (let i = open + 1; i < text.length; i++) {
    if (text[i] === "\\" && quoted) i++;
    else if (text[i] === '"') quoted = !quoted;
    else if (quoted) continue;
    else if (text[i] === "[") depth++;
    else if (text[i] === "]" && depth-- === 0) return i;
  }
  return -1;
}

/**
 * Compiles a SCIM path: `attr`, `attr.sub`, URN-qualified extension paths, and value paths
 * `attr[filter].sub` (RFC 7644 §3.10). A complex attribute without a sub-attribute means its
 * `value` (RFC 7643 §2.4), when it has one. Throws Error with the reason.
 */
export function compilePath(registry: SchemaRegistry, text: string, kind: ResourceKind = "User"): CompiledPath {
  const open = text.indexOf("[");
  let base = text;
  let sub = "";
  let filter: FilterNode | undefined;
  if (open >= 0) {
    const close = closingBracket(text, open);
    if (close < 0) throw new Error(`unclosed '[' in ${JSON.stringify(text)}`);
    base = text.slice(0, open);
    sub = text.slice(close + 1);
    if (sub !== "" && !/^\.[A-Za-z][\w$-]*$/.test(sub)) throw new Error(`unexpected ${JSON.stringify(sub)} after ']' in ${JSON.stringify(text)}`);
    filter = parseFilter(text.slice(open + 1, close));
    // RFC 7644 §3.4.2.2 forbids a value filter inside another; refuse now rather than on the first user.
    if (JSON.stringify(filter).includes('"kind":"valuePath"')) throw new Error(`nested [filter] in ${JSON.stringify(text)}`);
  }
  const top = registry.resolve(kind, base);
  if (!top || (open >= 0 && top.sub)) throw new Error(`unknown SCIM attribute ${JSON.stringify(base)}`);
  let resolved: ResolvedPath | undefined = sub ? registry.resolve(kind, base + sub) : top;
  if (!resolved) throw new Error(`unknown sub-attribute ${JSON.stringify(sub.slice(1))} of ${top.canonical}`);
  if (filter && resolved.attr.type !== "complex") throw new Error(`a [filter] needs a complex attribute; ${top.canonical} is ${top.attr.type}`);
  if (resolved.attr.type === "complex" && !resolved.sub) {
    // Multi-valued ones (emails) and references like the enterprise manager both carry `value`.
    const value = resolved.attr.subAttributes?.find((s) => s.name === "value");
    if (!value) throw new Error(`${resolved.canonical} is complex: name a sub-attribute (e.g. ${resolved.canonical}.${resolved.attr.subAttributes?.[0]?.name ?? "value"})`);
    resolved = { ...resolved, sub: value };
  }
  const { attr, sub: subDef, extension, schema } = resolved;
  return { text, read: (resource) => readValues(extension ? getCI(resource, schema) : resource, attr, subDef, filter) };
}

function readValues(container: unknown, attr: AttributeDef, sub: AttributeDef | undefined, filter: FilterNode | undefined): unknown[] {
  const raw = getCI(container, attr.name);
  if (raw === undefined || raw === null) return [];
  let items = Array.isArray(raw) ? raw : [raw];
  if (attr.type === "complex") {
    let elements = items.filter(isObject);
    if (filter) elements = elements.filter((e) => matchElement(e, filter, attr));
    // Primary first (RFC 7643 §2.4: at most one element is primary), original order otherwise.
    elements = [...elements.filter((e) => getCI(e, "primary") === true), ...elements.filter((e) => getCI(e, "primary") !== true)];
    items = sub ? elements.map((e) => getCI(e, sub.name)) : elements;
  }
  return items.flat().filter((v) => v !== undefined && v !== null);
}

/** LDAP string form of a SCIM or JSONata value (RFC 4517 §3.3.3 Boolean, §3.3.16 Integer). */
function toLdapString(v: unknown, origin: string): string {
  if (typeof v === "string") return v;
  if (typeof v === "boolean") return v ? "TRUE" : "FALSE";
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new MappingError(`${origin} produced ${v}, which LDAP cannot hold`);
    // BigInt so 1e21 is written as digits, as the Integer syntax requires.
    return Number.isInteger(v) ? BigInt(v).toString() : String(v);
  }
  throw new MappingError(`${origin} produced ${Array.isArray(v) ? "an array" : "an object"}; map a sub-attribute or return text`);
}

/** Runs a path read, turning a filter evaluation failure into a MappingError that says where. */
function guarded(origin: string, read: () => unknown[]): unknown[] {
  try {
    return read();
  } catch (e) {
    throw e instanceof MappingError ? e : new MappingError(`${origin}: ${(e as Error).message}`);
  }
}

/** JSONata results may be nested sequences; flatten to a plain list. */
function flattenResult(v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.flatMap(flattenResult);
  return [v];
}

export function compileMapping(
  registry: SchemaRegistry,
  attribute: string,
  mapping: Exclude<AttributeMapping, null>,
  origin: string,
  kind: ResourceKind = "User",
): CompiledMapping {
  if (typeof mapping === "string" || "path" in mapping) {
    const path = compilePath(registry, typeof mapping === "string" ? mapping : mapping.path, kind);
    return { attribute, origin, read: (resource) => guarded(origin, () => path.read(resource)) };
  }
  if ("expr" in mapping) {
    const expr = jsonata(mapping.expr);
    return {
      attribute,
      origin,
      read: async (resource) => {
        try {
          return flattenResult(await expr.evaluate(resource));
        } catch (e) {
          throw new MappingError(`${origin}: JSONata failed: ${(e as Error).message}`);
        }
      },
    };
  }
  const constant = Array.isArray(mapping.value) ? mapping.value : [mapping.value];
  return { attribute, origin, read: () => constant };
}

/**
 * Compiles a validated rule: merges the preset's mappings with the rule's (the rule wins, `null`
 * removes one), resolves every SCIM path, parses the filter. `target` supplies the default preset.
 * Throws RuleError naming the offending key.
 */
export function compileRule(registry: SchemaRegistry, rule: UserRuleConfig, target?: { directory: DirectoryKind }): CompiledRule {
  const fail = (key: string, e: unknown): never => {
    throw new RuleError(rule.name, key, e instanceof Error ? e.message : String(e));
  };
  if (!rule.preset && !target) fail("preset", "no preset and no target to take the directory from");
  const preset = getPreset(target ? presetOf(rule, target) : (rule.preset as DirectoryKind));

  let filter: FilterNode | undefined;
  if (rule.filter !== undefined) {
    try {
      const parsed: FilterNode = parseFilter(rule.filter);
      checkFilterPaths(registry, parsed);
      filter = parsed;
    } catch (e) {
      fail("filter", e);
    }
  }

  const dn: (string | CompiledPath)[] = [];
  try {
    for (const part of parseDnTemplate(rule.dn)) dn.push("literal" in part ? part.literal : compilePath(registry, part.path));
  } catch (e) {
    fail("dn", e);
  }

  const merged = new Map<string, { attribute: string; mapping: Exclude<AttributeMapping, null>; origin: string }>();
  for (const [attribute, mapping] of Object.entries(preset.attributes)) {
    if (mapping !== null) merged.set(lower(attribute), { attribute, mapping, origin: `preset ${preset.name} ${attribute}` });
  }
  for (const [attribute, mapping] of Object.entries(rule.attributes)) {
    if (mapping === null) merged.delete(lower(attribute));
    else merged.set(lower(attribute), { attribute, mapping, origin: `attributes.${attribute}` });
  }
  const mappings: CompiledMapping[] = [];
  for (const { attribute, mapping, origin } of merged.values()) {
    try {
      mappings.push(compileMapping(registry, attribute, mapping, origin));
    } catch (e) {
      fail(origin.startsWith("attributes.") ? origin : `attributes.${attribute} (${origin})`, e);
    }
  }

  return {
    name: rule.name,
    target: rule.target,
    preset,
    config: rule,
    registry,
    filter,
    dn,
    objectClasses: rule.objectClasses ?? [...preset.objectClasses],
    mappings,
    singleValued: new Set(preset.singleValued.map(lower)),
    actions: rule.actions,
    correlationAttribute: rule.correlation?.attribute,
  };
}

/** Every attribute path in a rule filter must exist, so a typo fails at start-up, not silently never matching. */
function checkFilterPaths(registry: SchemaRegistry, node: FilterNode, prefix = ""): void {
  switch (node.kind) {
    case "and":
    case "or":
      checkFilterPaths(registry, node.left, prefix);
      checkFilterPaths(registry, node.right, prefix);
      return;
    case "not":
      checkFilterPaths(registry, node.expr, prefix);
      return;
    case "valuePath":
      checkFilterPaths(registry, node.filter, `${prefix}${node.path}.`);
      return;
    default:
      if (!registry.resolve("User", prefix + node.path)) throw new Error(`unknown attribute ${JSON.stringify(prefix + node.path)}`);
  }
}

/** Whether the rule applies to the user (its SCIM filter, evaluated by the list-filter code). */
export function matchesRule(rule: CompiledRule, resource: Resource): boolean {
  return rule.filter ? matchesFilter(rule.registry, "User", resource, rule.filter) : true;
}

/** Values as LDAP strings: empties dropped (RFC 4517 §3.3.6 Directory String is 1+ chars), duplicates folded. */
function clean(values: unknown[], origin: string, single: boolean): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const v of values) {
    const s = toLdapString(v, origin);
    // Values differing only in case are one value to caseIgnore attributes: OpenLDAP rejects the
    // second with 20 typeOrValueExists (ldap-targets.md §5.3).
    if (s === "" || seen.has(lower(s))) continue;
    seen.add(lower(s));
    out.push(s);
  }
  return single ? out.slice(0, 1) : out;
}

/**
 * Maps a SCIM User to the entry the rule wants. The DN's RDN values are written into their
 * attributes (RFC 4512 §2.3: an entry holds its RDN's values), so `uid={userName}` and a uid
 * mapping never disagree. Absent `active` means active (RFC 7643 §4.1.1 leaves it to the provider).
 * Throws MappingError.
 */
export async function mapUser(rule: CompiledRule, resource: Resource): Promise<MappedEntry> {
  const { dn, attributes } = await renderEntry(rule, resource, "user");
  const active = getCI(resource, "active");
  return { dn, attributes, active: !(active === false || (typeof active === "string" && lower(active) === "false")) };
}

/**
 * Evaluates compiled mappings and a DN template against a resource (User or Group): values
 * cleaned to LDAP strings, DN values escaped (RFC 4514), and the RDN's values written into their
 * attributes. Throws MappingError naming the mapping or placeholder that failed.
 */
export async function renderEntry(
  rule: { mappings: CompiledMapping[]; dn: (string | CompiledPath)[]; singleValued: Set<string> },
  resource: Resource,
  noun: string,
): Promise<{ dn: string; attributes: Record<string, string[]> }> {
  const attributes: Record<string, string[]> = {};
  const results = await Promise.all(rule.mappings.map(async (m) => [m, await m.read(resource)] as const));
  for (const [m, values] of results) attributes[m.attribute] = clean(values, m.origin, rule.singleValued.has(lower(m.attribute)));

  let dn = "";
  for (const part of rule.dn) {
    if (typeof part === "string") {
      dn += part;
      continue;
    }
    const where = `DN placeholder {${part.text}}`;
    const [first] = clean(guarded(where, () => part.read(resource)), where, true);
    if (first === undefined) throw new MappingError(`DN placeholder {${part.text}} has no value for this ${noun}`);
    dn += escapeDnValue(first);
  }

  for (const ava of parseDn(dn)[0] ?? []) {
    const key = Object.keys(attributes).find((k) => lower(k) === lower(ava.type)) ?? ava.type;
    const others = (attributes[key] ?? []).filter((v) => lower(v) !== lower(ava.value));
    attributes[key] = rule.singleValued.has(lower(key)) ? [ava.value] : [ava.value, ...others];
  }
  return { dn, attributes };
}
