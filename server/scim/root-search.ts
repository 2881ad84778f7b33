/**
 * POST {base}/.search (RFC 7644 §3.4.3): one list across Users then Groups. A filter naming an
 * attribute only one resource type has simply matches nothing of the other type; it is an
 * invalidFilter only when no resource type can answer it.
 */
import { ScimError } from "../../schemas/errors.js";
import type { ResourceKind } from "../../schemas/registry.js";
import type { ListParams } from "./list-params.js";
import type { ListResult, RequestContext, ResourceService } from "./service.js";

export async function rootSearch(service: ResourceService, p: ListParams, ctx: RequestContext): Promise<ListResult> {
  const kinds: ResourceKind[] = ["User", "Group"];
  // RFC 9865 §3: a SearchRequest may carry a cursor; the page then runs on across both types.
  if (p.cursor !== undefined) return service.cursorList(kinds, "/.search", p, ctx);
  const totals = new Map<ResourceKind, number>();
  let lastError: unknown;
  for (const kind of kinds) {
    try {
      totals.set(kind, (await service.list(kind, { ...p, count: 0 }, ctx)).totalResults);
    } catch (e) {
      if (!(e instanceof ScimError && e.scimType === "invalidFilter")) throw e;
      lastError = e;
    }
  }
  if (totals.size === 0) throw lastError;
  const resources: Record<string, unknown>[] = [];
  let skip = p.startIndex - 1;
  let want = p.count;
  for (const kind of kinds) {
    const total = totals.get(kind);
    if (total === undefined) continue;
    if (skip >= total) {
      skip -= total;
      continue;
    }
    if (want > 0) {
      const page = (await service.list(kind, { ...p, startIndex: skip + 1, count: want }, ctx)).resources;
      resources.push(...page);
      want -= page.length;
    }
    skip = 0;
  }
  const totalResults = [...totals.values()].reduce((a, b) => a + b, 0);
  return { totalResults, startIndex: p.startIndex, itemsPerPage: resources.length, resources };
}
