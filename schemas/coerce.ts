/**
 * Client JSON → stored attributes, for POST (RFC 7644 §3.3) and PUT (RFC 7644 §3.5.1).
 *
 * The rules come from RFC 7643 §2 (names, types, null, multi-valued, mutability), softened where a
 * real identity provider sends something the RFC does not allow and the meaning is still clear.
 * Each softening cites where that traffic comes from. Nothing here enforces `canonicalValues`:
 * RFC 7643 §2.3.1 lets a service provider accept other values, and scimmy rejects both `"Work"`
 * (any case but its own) and every `roles`/`x509Certificates` type (their lists are empty).
 *
 * The output is the "stored attributes" shape: wire shape with canonical attribute names, no
 * `id`/`meta`/`schemas`/`groups`/`members`/`password`; extension attributes in an object under
 * the extension's canonical URN.
 */
import { badRequest } from "./errors.js";
import { ENTERPRISE_USER } from "./registry.js";
import type { AttributeDef, AttributeType, ResolvedPath, ResourceKind, SchemaDef, SchemaRegistry } from "./registry.js";

/** Why coercion is running: a POST (`create`) or a full replacement (`replace`: PUT, re-validated PATCH). */
export type CoerceMode = "create" | "replace";

/** A group member as sent; the server derives `display` and `$ref` itself (RFC 7643 §4.2). */
export interface MemberInput {
  value: string;
  type?: "User" | "Group";
}

/** What a write carries once coerced. */
export interface CoercedInput {
  /** Stored attributes (see the module comment). */
  attributes: Record<string, unknown>;
  /** A User's `password` (writeOnly, RFC 7643 §4.1.1): never stored with the attributes. */
  password?: string;
  /** A Group's `members` when the body had the attribute (`[]` clears); undefined when it did not. */
  members?: MemberInput[];
  /** The `schemas` URNs exactly as the client sent them (unknown ones included). */
  schemasSent: string[];
}

type Json = Record<string, unknown>;

/**
 * RFC 7643 §4.1.1: "Each User MUST include a non-empty userName value"; §4.2: a Group's
 * displayName is REQUIRED. Enforced even if a schema definition forgets to say so.
 */
const ALWAYS_REQUIRED: Record<ResourceKind, string> = { User: "userName", Group: "displayName" };

const EXPECTED: Record<AttributeType, string> = {
  string: "a string",
  boolean: "a boolean (true or false)",
  integer: "an integer",
  decimal: "a number",
  dateTime: "a dateTime (RFC 3339, e.g. 2024-01-31T09:30:00Z)",
  reference: "a reference (URI string)",
  binary: "a base64-encoded string",
  complex: "a complex value (JSON object)",
};

const lower = (s: string) => s.toLowerCase();
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const findAttr = (pool: readonly AttributeDef[] | undefined, name: string) =>
  pool?.find((a) => lower(a.name) === lower(name));

function jsonType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  return `a ${typeof v}`;
}

/** Values are not echoed in details: they may be personal data or a password. */
const wrongType = (path: string, expected: string, got: unknown) =>
  badRequest("invalidValue", `Attribute "${path}": expected ${expected}, got ${jsonType(got)}`);

const missing = (path: string, mode: CoerceMode) =>
  badRequest(
    "invalidValue",
    `Attribute "${path}" is required and must not be empty` +
      (mode === "replace" ? " (a replacement carries every required attribute, RFC 7644 §3.5.1)" : ""),
  );

interface Ctx {
  mode: CoerceMode;
  /** The enterprise `manager` definition, which Entra may send as a bare string. */
  manager: AttributeDef | undefined;
}

/**
 * Validates and normalises a POST/PUT body for `kind` (see the module comment for the rules).
 * Throws ScimError 400 invalidSyntax when the body is not an object, invalidValue for a wrong type
 * or a missing required attribute.
 */
export function coerceInput(registry: SchemaRegistry, kind: ResourceKind, body: unknown, mode: CoerceMode): CoercedInput {
  if (!isObject(body)) throw badRequest("invalidSyntax", `The request body must be a JSON object, got ${jsonType(body)}`);
  const rt = registry.resourceType(kind);
  const ctx: Ctx = { mode, manager: kind === "User" ? registry.resolve("User", `${ENTERPRISE_USER}:manager`)?.attr : undefined };

  const { core, ext, schemasSent } = bucket(registry, kind, body);
  const out: CoercedInput = { attributes: {}, schemasSent };

  for (const [name, raw] of core) {
    const def = findAttr(registry.coreAttributes(kind), name);
    if (!def) continue;
    if (kind === "User" && def.name === "password") {
      const password = coercePassword(raw);
      if (password !== undefined) out.password = password;
      continue;
    }
    if (kind === "Group" && def.name === "members") {
      out.members = coerceMembers(raw, mode);
      continue;
    }
    // A User's groups are derived from group membership (RFC 7643 §4.1.2: readOnly). Okta PUTs
    // the whole object it read, groups included (https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/).
    if (kind === "User" && def.name === "groups") continue;
    // RFC 7644 §3.5.1: readOnly values sent by a client SHALL be ignored. Okta sends id/meta (same
    // guide); Entra sends meta:{resourceType}
    // (https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups).
    // immutable attributes pass; the route compares them with the stored value.
    if (def.mutability === "readOnly") continue;
    const v = coerceAttr(def, raw, def.name, ctx);
    if (v !== undefined) out.attributes[def.name] = v;
  }
  for (const a of registry.coreAttributes(kind)) {
    const required = a.required || a.name === ALWAYS_REQUIRED[kind];
    if (required && a.mutability !== "readOnly" && a.name !== "password" && out.attributes[a.name] === undefined) {
      throw missing(a.name, mode);
    }
  }

  for (const { schema, required } of rt.extensions) {
    const coerced = coerceExtension(schema, ext.get(schema.id), ctx);
    // Required attributes of an optional extension bind only when the client sends the extension.
    if (required || coerced) {
      for (const a of schema.attributes) {
        if (a.required && a.mutability !== "readOnly" && coerced?.[a.name] === undefined) throw missing(`${schema.id}:${a.name}`, mode);
      }
    }
    if (coerced) out.attributes[schema.id] = coerced;
  }
  return out;
}

/**
 * Sorts the body's keys into core attributes and extension attributes, by canonical name.
 * Keys are matched case-insensitively (RFC 7643 §2.1). Later keys win over earlier ones.
 */
function bucket(registry: SchemaRegistry, kind: ResourceKind, body: Json) {
  const core = new Map<string, unknown>();
  const ext = new Map<string, Map<string, unknown>>();
  let schemasSent: string[] = [];
  const extBucket = (urn: string) => {
    let b = ext.get(urn);
    if (!b) ext.set(urn, (b = new Map()));
    return b;
  };
  const place = (r: ResolvedPath, v: unknown) => {
    const target = r.extension ? extBucket(r.schema) : core;
    if (!r.sub) return void target.set(r.attr.name, v);
    const parent = target.get(r.attr.name);
    target.set(r.attr.name, { ...(isObject(parent) ? parent : {}), [r.sub.name]: v });
  };

  for (const [key, v] of Object.entries(body)) {
    if (lower(key) === "schemas") {
      schemasSent = readSchemas(v);
      continue;
    }
    const urn = registry.extensionUrn(kind, key);
    if (urn !== undefined) {
      // RFC 7643 §2.5: null is "unassigned", the same as leaving the attribute out.
      if (v === null || v === undefined) continue;
      if (!isObject(v)) throw wrongType(urn, EXPECTED.complex, v);
      const b = extBucket(urn);
      for (const [k, sv] of Object.entries(v)) {
        const a = findAttr(registry.schema(urn)?.attributes, k);
        if (a) b.set(a.name, sv); // unknown attributes inside a declared extension: dropped
      }
      continue;
    }
    const def = findAttr(registry.coreAttributes(kind), key);
    if (def) {
      core.set(def.name, v);
      continue;
    }
    // URN-qualified (`urn:...:enterprise:2.0:User:employeeNumber`, RFC 7644 §3.10) or dotted
    // (`name.givenName`) keys, as Entra writes them in a path-less PATCH value (Entra compatibility doc).
    const r = registry.resolve(kind, key);
    if (r) place(r, v);
    // Anything else (unknown attributes, undeclared extension objects) is dropped: tolerant reader.
  }
  return { core, ext, schemasSent };
}

function readSchemas(v: unknown): string[] {
  if (v === null || v === undefined) return [];
  if (typeof v === "string") return [v];
  if (Array.isArray(v) && v.every((s) => typeof s === "string")) return v;
  throw badRequest("invalidSyntax", `"schemas" must be an array of schema URNs, got ${jsonType(v)}`);
}

function coerceExtension(schema: SchemaDef, raw: Map<string, unknown> | undefined, ctx: Ctx): Json | undefined {
  if (!raw) return undefined;
  const out: Json = {};
  for (const [name, v] of raw) {
    const def = findAttr(schema.attributes, name);
    // readOnly, e.g. a custom extension's server-computed attribute (RFC 7644 §3.5.1).
    if (!def || def.mutability === "readOnly") continue;
    const c = coerceAttr(def, v, `${schema.id}:${def.name}`, ctx);
    if (c !== undefined) out[def.name] = c;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** One attribute's value; undefined means "absent" (null, "", [], or nothing left after dropping). */
function coerceAttr(def: AttributeDef, raw: unknown, path: string, ctx: Ctx): unknown {
  if (raw === null || raw === undefined) return undefined;
  if (!def.multiValued) {
    if (Array.isArray(raw)) throw wrongType(path, `${EXPECTED[def.type]} (single-valued)`, raw);
    return coerceSingle(def, raw, path, ctx);
  }
  // A lone value for a multi-valued attribute is read as a one-element array.
  const items = Array.isArray(raw) ? raw : [raw];
  let out = items.map((item, i) => coerceSingle(def, item, `${path}[${i}]`, ctx)).filter((x) => x !== undefined);
  if (def.type === "complex") {
    const subs = def.subAttributes ?? [];
    // An element whose `value` came out empty says nothing. PingFederate fills a second email slot
    // with an empty value and marks it primary too (pf_scim_connector_known_issues_and_limitations.html);
    // dropping it before the primary check keeps the real address primary.
    if (findAttr(subs, "value")) out = out.filter((el) => isObject(el) && el.value !== undefined);
    if (findAttr(subs, "primary")) keepFirstPrimary(out as Json[]);
  }
  // RFC 7643 §2.5: an empty array is the same as unassigned (Entra sends `roles: []`).
  return out.length > 0 ? out : undefined;
}

/**
 * RFC 7643 §2.4: the primary value "MUST appear no more than once". PingFederate can send two
 * emails both `primary: true` (https://docs.pingidentity.com/integrations/scim/release_notes/pf_scim_connector_known_issues_and_limitations.html).
 * Rejecting would fail every such user, so the first `primary: true` wins and later ones become
 * false: the first element is what the client listed first, usually its own primary slot.
 */
function keepFirstPrimary(items: Json[]): void {
  let seen = false;
  for (const el of items) {
    if (el.primary !== true) continue;
    if (seen) el.primary = false;
    seen = true;
  }
}

function coerceSingle(def: AttributeDef, v: unknown, path: string, ctx: Ctx): unknown {
  if (v === null || v === undefined) return undefined;
  switch (def.type) {
    case "complex":
      return coerceComplex(def, v, path, ctx);
    case "string":
    case "reference":
      if (typeof v !== "string") throw wrongType(path, EXPECTED[def.type], v);
      // "" is read as "not set". PingFederate cannot clear an attribute at all and others clear by
      // sending "" (pf_scim_connector_known_issues_and_limitations.html); storing "" would push an
      // empty LDAP value, which directories reject. A required attribute then reports "missing".
      return v === "" ? undefined : v;
    case "binary":
      return coerceBinary(v, path);
    case "boolean":
      return coerceBoolean(v, path);
    case "integer":
      if (typeof v !== "number" || !Number.isSafeInteger(v)) throw wrongType(path, EXPECTED.integer, v);
      return v;
    case "decimal":
      if (typeof v !== "number" || !Number.isFinite(v)) throw wrongType(path, EXPECTED.decimal, v);
      return v;
    case "dateTime":
      return coerceDateTime(v, path);
  }
}

function coerceComplex(def: AttributeDef, v: unknown, path: string, ctx: Ctx): Json | undefined {
  // Entra sends the enterprise manager as a bare id, `"manager": "123456"`
  // (https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups);
  // RFC 7643 §4.3 defines it as complex with `value`.
  if (typeof v === "string" && def === ctx.manager) v = { value: v };
  if (!isObject(v)) throw wrongType(path, EXPECTED.complex, v);
  const out: Json = {};
  for (const [k, sv] of Object.entries(v)) {
    const sub = findAttr(def.subAttributes, k);
    // Unknown sub-attributes are dropped; readOnly ones (manager.displayName, RFC 7643 §4.3) are
    // ignored per RFC 7644 §3.5.1. `$ref: null` (Entra) is just absent (RFC 7643 §2.5).
    if (!sub || sub.mutability === "readOnly") continue;
    const c = coerceAttr(sub, sv, `${path}.${sub.name}`, ctx);
    if (c !== undefined) out[sub.name] = c;
  }
  if (Object.keys(out).length === 0) return undefined;
  for (const sub of def.subAttributes ?? []) {
    if (sub.required && sub.mutability !== "readOnly" && out[sub.name] === undefined) throw missing(`${path}.${sub.name}`, ctx.mode);
  }
  return out;
}

/**
 * Entra sends booleans as the strings "True"/"False" unless the tenant URL carries the
 * aadOptscim062020 flag (https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility).
 * Only those two words are read, in any case; anything else is still a type error.
 */
function coerceBoolean(v: unknown, path: string): boolean {
  if (typeof v === "boolean") return v;
  if (typeof v === "string") {
    if (lower(v) === "true") return true;
    if (lower(v) === "false") return false;
  }
  throw wrongType(path, EXPECTED.boolean, v);
}

// RFC 3339 §5.6 date-time (xsd:dateTime with a mandatory offset; RFC 7643 §2.3.5). The offset is
// required because a local time without one cannot be stored unambiguously.
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Valid RFC 3339 date-time → normalised ISO 8601 UTC (`2024-01-31T09:30:00.000Z`). */
function coerceDateTime(v: unknown, path: string): string {
  const m = typeof v === "string" ? DATE_TIME.exec(v) : null;
  if (!m || typeof v !== "string") throw wrongType(path, EXPECTED.dateTime, v);
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  // Date.UTC rolls 2023-02-30 over to March; a round trip of the fields catches that.
  const probe = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  const t = Date.parse(v.replace(/[ t]/, "T").toUpperCase());
  if (probe.getUTCMonth() !== mo - 1 || probe.getUTCDate() !== d || probe.getUTCHours() !== h || mi > 59 || s > 59 || Number.isNaN(t)) {
    throw badRequest("invalidValue", `Attribute "${path}": ${JSON.stringify(v)} is not ${EXPECTED.dateTime}`);
  }
  return new Date(t).toISOString();
}

/** RFC 7643 §2.3.6: base64 (RFC 4648 §4). Line breaks and missing padding are tolerated. */
function coerceBinary(v: unknown, path: string): string | undefined {
  if (typeof v !== "string") throw wrongType(path, EXPECTED.binary, v);
  if (v === "") return undefined;
  const compact = v.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact) || compact.length % 4 === 1) {
    throw badRequest("invalidValue", `Attribute "${path}": expected ${EXPECTED.binary}`);
  }
  return v;
}

function coercePassword(v: unknown): string | undefined {
  if (v === null || v === undefined || v === "") return undefined;
  if (typeof v !== "string") throw wrongType("password", EXPECTED.string, v);
  return v;
}

/**
 * A Group's `members` (RFC 7643 §4.2): each needs a `value` (a resource id); `type` is "User" or
 * "Group" in any case. `display` and `$ref` are ignored: the server derives both. Okta adds
 * `display` (https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/), Entra adds
 * `"$ref": null` (https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups).
 * `members: null` means "no members" (RFC 7643 §2.5 unassigned), like `[]`.
 */
function coerceMembers(raw: unknown, mode: CoerceMode): MemberInput[] {
  if (raw === null || raw === undefined) return [];
  const items = Array.isArray(raw) ? raw : [raw];
  const out: MemberInput[] = [];
  items.forEach((m, i) => {
    if (m === null || m === undefined) return;
    const path = `members[${i}]`;
    if (!isObject(m)) throw wrongType(path, EXPECTED.complex, m);
    const field = (name: string) => Object.entries(m).find(([k]) => lower(k) === name)?.[1];
    const value = field("value");
    if (value === undefined || value === null || value === "") throw missing(`${path}.value`, mode);
    if (typeof value !== "string") throw wrongType(`${path}.value`, EXPECTED.string, value);
    const member: MemberInput = { value };
    const type = field("type");
    if (type !== undefined && type !== null && type !== "") {
      if (typeof type !== "string" || !["user", "group"].includes(lower(type))) {
        throw badRequest("invalidValue", `Attribute "${path}.type": expected "User" or "Group"`);
      }
      member.type = lower(type) === "user" ? "User" : "Group";
    }
    out.push(member);
  });
  return out;
}
