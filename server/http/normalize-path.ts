/**
 * Collapses repeated slashes and drops a trailing slash before routing: PingFederate connectors
 * before 1.3 built `/v2//Users` from a base URL ending in `/`
 * (https://docs.pingidentity.com/integrations/scim/release_notes/pf_scim_connector_changelog.html).
 */
import type { RequestHandler } from "express";

export function normalizePath(path: string): string {
  const collapsed = path.replace(/\/{2,}/g, "/");
  return collapsed.length > 1 ? collapsed.replace(/\/+$/, "") : collapsed;
}

export const normalizePathMiddleware: RequestHandler = (req, _res, next) => {
  const q = req.url.indexOf("?");
  const path = q === -1 ? req.url : req.url.slice(0, q);
  const normalized = normalizePath(path);
  if (normalized !== path) req.url = normalized + (q === -1 ? "" : req.url.slice(q));
  next();
};
