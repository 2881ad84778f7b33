/**
 * The schema registry: what a User and a Group are, as RFC 7643 attribute definitions.
 *
 * The built-in definitions come from scimmy (its schema data is right, RFC 7643 §4 and §8.7);
 * custom extensions come from config. Everything downstream (coercion, filters, PATCH paths,
 * projection, mappings) asks this registry, never scimmy, so one app's extensions never leak
 * into another's.
 */
import SCIMMY from "scimmy";

export type AttributeType =
  | "string"
  | "boolean"
  | "decimal"
  | "integer"
  | "dateTime"
  | "reference"
  | "complex"
  | "binary";

export interface AttributeDef {
  name: string;
  type: AttributeType;
  multiValued: boolean;
  description?: string;
  required: boolean;
  caseExact: boolean;
  canonicalValues?: string[];
  referenceTypes?: string[];
  mutability: "readOnly" | "readWrite" | "immutable" | "writeOnly";
  returned: "always" | "never" | "default" | "request";
  uniqueness: "none" | "server" | "global";
  subAttributes?: AttributeDef[];
}

export interface SchemaDef {
  id: string;
  name: string;
  description: string;
  attributes: AttributeDef[];
}

export type ResourceKind = "User" | "Group";

export interface ResourceTypeDef {
  name: ResourceKind;
  endpoint: "/Users" | "/Groups";
  core: SchemaDef;
  extensions: { schema: SchemaDef; required: boolean }[];
}

/** An attribute path resolved against a resource type (RFC 7644 §3.10 attribute notation). */
export interface ResolvedPath {
  /** URN of the schema that owns the attribute. */
  schema: string;
  /** True when the attribute lives in an extension (stored under its URN key). */
  extension: boolean;
  attr: AttributeDef;
  sub?: AttributeDef;
  /** Canonical spelling: `name.givenName`, `urn:...:User:manager.value`. */
  canonical: string;
}

export const CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User";
export const CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
export const ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/** Common attributes (RFC 7643 §3.1): present on every resource, not part of any schema's list. */
const COMMON: AttributeDef[] = [
  attr("id", "string", { caseExact: true, mutability: "readOnly", returned: "always", uniqueness: "server" }),
  attr("externalId", "string", { caseExact: true }),
  attr("meta", "complex", {
    mutability: "readOnly",
    subAttributes: [
      attr("resourceType", "string", { caseExact: true, mutability: "readOnly" }),
      attr("created", "dateTime", { mutability: "readOnly" }),
      attr("lastModified", "dateTime", { mutability: "readOnly" }),
      attr("location", "reference", { caseExact: true, mutability: "readOnly" }),
      attr("version", "string", { caseExact: true, mutability: "readOnly" }),
    ],
  }),
];

function attr(name: string, type: AttributeType, over: Partial<AttributeDef> = {}): AttributeDef {
  return {
    name,
    type,
    multiValued: false,
    required: false,
    caseExact: false,
    mutability: "readWrite",
    returned: "default",
    uniqueness: "none",
    ...over,
  };
}

/** A custom extension as declared in config (see server/config/schema.ts). */
export interface ExtensionConfig {
  schema: string;
  name: string;
  description?: string;
  resource: ResourceKind;
  required: boolean;
  attributes: (Partial<AttributeDef> & { name: string; type: AttributeType })[];
}

/** Normalise scimmy's describe() output (it omits defaults) into complete AttributeDefs. */
function fromDescribed(a: Record<string, unknown>): AttributeDef {
  const subs = a.subAttributes as Record<string, unknown>[] | undefined;
  return attr(String(a.name), a.type as AttributeType, {
    multiValued: Boolean(a.multiValued),
    description: a.description as string | undefined,
    required: Boolean(a.required),
    caseExact: Boolean(a.caseExact),
    canonicalValues: Array.isArray(a.canonicalValues) ? (a.canonicalValues as string[]) : undefined,
    referenceTypes: Array.isArray(a.referenceTypes) ? (a.referenceTypes as string[]) : undefined,
    mutability: (a.mutability as AttributeDef["mutability"]) ?? "readWrite",
    returned: (a.returned as AttributeDef["returned"]) ?? "default",
    uniqueness: (a.uniqueness as AttributeDef["uniqueness"]) ?? "none",
    subAttributes: subs?.map(fromDescribed),
  });
}

function describe(definition: { describe(): Record<string, unknown> }): SchemaDef {
  // describe() holds scimmy Attribute instances whose flags live under `.config`; their toJSON()
  // gives the flat RFC 7643 §7 shape we read.
  const d = JSON.parse(JSON.stringify(definition.describe())) as Record<string, unknown>;
  return {
    id: String(d.id),
    name: String(d.name),
    description: String(d.description ?? ""),
    attributes: (d.attributes as Record<string, unknown>[]).map(fromDescribed),
  };
}

/** Builds a complete AttributeDef from a config declaration, filling RFC 7643 §2.2 defaults. */
export function attributeFromConfig(a: Partial<AttributeDef> & { name: string; type: AttributeType }): AttributeDef {
  return attr(a.name, a.type, {
    ...a,
    subAttributes: a.subAttributes?.map((s) => attributeFromConfig(s)),
  });
}

const lower = (s: string) => s.toLowerCase();

export class SchemaRegistry {
  readonly user: ResourceTypeDef;
  readonly group: ResourceTypeDef;
  private readonly schemasById = new Map<string, SchemaDef>();

  constructor(extensions: ExtensionConfig[] = []) {
    // scimmy's own User definition lists `groups`; Group lists `members`. Both are kept.
    const userCore = describe(SCIMMY.Schemas.User.definition);
    const groupCore = describe(SCIMMY.Schemas.Group.definition);
    const enterprise = describe(SCIMMY.Schemas.EnterpriseUser.definition);
    // RFC 7643 §4.3: manager.displayName is readOnly; scimmy agrees. Nothing to fix here.
    this.user = { name: "User", endpoint: "/Users", core: userCore, extensions: [{ schema: enterprise, required: false }] };
    this.group = { name: "Group", endpoint: "/Groups", core: groupCore, extensions: [] };
    for (const ext of extensions) {
      const def: SchemaDef = {
        id: ext.schema,
        name: ext.name,
        description: ext.description ?? "",
        attributes: ext.attributes.map((a) => attributeFromConfig(a)),
      };
      this.resourceType(ext.resource).extensions.push({ schema: def, required: ext.required });
    }
    for (const rt of [this.user, this.group]) {
      this.schemasById.set(lower(rt.core.id), rt.core);
      for (const e of rt.extensions) this.schemasById.set(lower(e.schema.id), e.schema);
    }
  }

  resourceType(kind: ResourceKind): ResourceTypeDef {
    return kind === "User" ? this.user : this.group;
  }

  /** All schemas, core first (for /Schemas). */
  schemas(): SchemaDef[] {
    return [...this.schemasById.values()];
  }

  /** Case-insensitive lookup by URN (RFC 7643 §2.1: URNs are compared case-insensitively here for tolerance). */
  schema(urn: string): SchemaDef | undefined {
    return this.schemasById.get(lower(urn));
  }

  /** The extension URN of a resource type matching `urn` case-insensitively, in its canonical spelling. */
  extensionUrn(kind: ResourceKind, urn: string): string | undefined {
    return this.resourceType(kind).extensions.find((e) => lower(e.schema.id) === lower(urn))?.schema.id;
  }

  /** Top-level attributes of the core schema plus the common ones (id, externalId, meta). */
  coreAttributes(kind: ResourceKind): AttributeDef[] {
    return [...COMMON, ...this.resourceType(kind).core.attributes.filter((a) => !COMMON.some((c) => c.name === a.name))];
  }

  /**
   * Resolves `path` (case-insensitive, RFC 7643 §2.1) to its definition. Accepts `attr`, `attr.sub`,
   * `urn:...:Schema:attr[.sub]` and a bare extension URN is not an attribute (returns undefined).
   */
  resolve(kind: ResourceKind, path: string): ResolvedPath | undefined {
    const rt = this.resourceType(kind);
    let schema = rt.core;
    let extension = false;
    let rest = path;
    // A URN prefix names the schema; the attribute follows the last ':' (RFC 7644 §3.10).
    if (lower(path).startsWith("urn:")) {
      const hit = [rt.core, ...rt.extensions.map((e) => e.schema)]
        .filter((s) => lower(path).startsWith(lower(s.id) + ":"))
        .sort((a, b) => b.id.length - a.id.length)[0];
      if (!hit) return undefined;
      schema = hit;
      extension = hit !== rt.core;
      rest = path.slice(hit.id.length + 1);
    }
    const [name, subName, ...more] = rest.split(".");
    if (!name || more.length > 0) return undefined;
    const pool = extension ? schema.attributes : this.coreAttributes(kind);
    const a = pool.find((x) => lower(x.name) === lower(name));
    if (!a) return undefined;
    let sub: AttributeDef | undefined;
    if (subName !== undefined) {
      sub = a.subAttributes?.find((x) => lower(x.name) === lower(subName));
      if (!sub) return undefined;
    }
    const prefix = extension ? `${schema.id}:` : "";
    return { schema: schema.id, extension, attr: a, sub, canonical: `${prefix}${a.name}${sub ? `.${sub.name}` : ""}` };
  }
}
