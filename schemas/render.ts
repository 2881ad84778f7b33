/**
 * Stored resource → SCIM wire representation (RFC 7643 §3): schemas, id, meta, derived
 * attributes (a User's groups, a Group's members), then the client-written attributes.
 */
import type { StoredResource } from "../db/resources.js";
import type { ResourceKind, SchemaRegistry } from "./registry.js";

export interface RenderContext {
  /** Absolute SCIM base URL, e.g. http://127.0.0.1:8080/scim/v2 (no trailing slash). */
  baseUrl: string;
}

export const endpointOf = (kind: ResourceKind) => (kind === "User" ? "Users" : "Groups");

/** Strong ETag of a resource version (RFC 7232 §2.3); also meta.version (RFC 7644 §3.14). */
export const etagOf = (version: number) => `"${version}"`;

export const locationOf = (ctx: RenderContext, kind: ResourceKind, id: string) =>
  `${ctx.baseUrl}/${endpointOf(kind)}/${encodeURIComponent(id)}`;

export interface Derived {
  groups?: { value: string; display: string }[] | undefined;
  members?: { value: string; type: string; display: string | null }[] | undefined;
}

export function renderResource(
  registry: SchemaRegistry,
  kind: ResourceKind,
  r: StoredResource,
  ctx: RenderContext,
  derived: Derived = {},
): Record<string, unknown> {
  const rt = registry.resourceType(kind);
  const present = rt.extensions
    .map((e) => e.schema.id)
    .filter((urn) => {
      const v = r.attributes[urn];
      return v !== undefined && v !== null && typeof v === "object" && Object.keys(v).length > 0;
    });
  const out: Record<string, unknown> = {
    schemas: [rt.core.id, ...present],
    id: r.id,
  };
  if (r.attributes.externalId !== undefined) out.externalId = r.attributes.externalId;
  out.meta = {
    resourceType: kind,
    created: r.created,
    lastModified: r.lastModified,
    location: locationOf(ctx, kind, r.id),
    version: etagOf(r.version),
  };
  for (const [k, v] of Object.entries(r.attributes)) {
    if (k === "externalId") continue;
    if (k.startsWith("urn:") && !present.includes(k)) continue;
    out[k] = v;
  }
  if (derived.groups?.length) {
    out.groups = derived.groups.map((g) => ({
      value: g.value,
      $ref: locationOf(ctx, "Group", g.value),
      display: g.display,
      type: "direct",
    }));
  }
  if (derived.members) {
    out.members = derived.members.map((m) => {
      const type = m.type === "Group" ? "Group" : "User";
      const member: Record<string, unknown> = { value: m.value, $ref: locationOf(ctx, type, m.value), type };
      if (m.display !== null) member.display = m.display;
      return member;
    });
  }
  return out;
}
