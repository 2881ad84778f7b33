/**
 * A resource as the SCIM wire shows it (RFC 7643 §3), read straight from the store: the stored
 * record rendered with its derived attributes (a User's `groups`, a Group's `members`), without a
 * request in sight. What the delivery worker maps, reconcile compares and the CLI prints; the SCIM
 * service renders the same way (schemas/render.ts) and adds the request's projection.
 */
import type { ResourceKind, SchemaRegistry } from "../schemas/registry.js";
import { normaliseMultiValuedForOutput, projectResource } from "../schemas/project.js";
import { renderResource } from "../schemas/render.js";
import type { Store } from "./store.js";

/** Reads a resource in wire shape, or undefined when it does not exist. */
export type ResourceReader = (kind: ResourceKind, id: string, opts?: { members?: boolean }) => Promise<Record<string, unknown> | undefined>;

/**
 * `members: false` leaves a Group's members out (a 100,000-member group is never loaded for
 * nothing). `baseUrl` makes `$ref` and `meta.location` absolute; delivery needs neither.
 */
export function resourceReader(store: Pick<Store, "resources">, registry: SchemaRegistry, baseUrl = ""): ResourceReader {
  return async (kind, id, opts = {}) => {
    const q = store.resources;
    const r = await q.get(kind, id);
    if (!r) return undefined;
    const derived = kind === "User" ? { groups: await q.groupsOf(id) } : { members: opts.members === false ? undefined : await q.members(id) };
    return projectResource(registry, kind, normaliseMultiValuedForOutput(registry, kind, renderResource(registry, kind, r, { baseUrl }, derived)), {});
  };
}
