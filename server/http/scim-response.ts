/**
 * SCIM responses: `application/scim+json` (RFC 7644 §3.1), or `application/json` when that is all
 * the client accepts (PingFederate SCIM connectors before 1.3 send only application/json,
 * https://docs.pingidentity.com/integrations/scim/release_notes/pf_scim_connector_changelog.html).
 */
import type { Request, Response } from "express";

export const SCIM_MEDIA_TYPE = "application/scim+json";

export function responseMediaType(req: Request): string {
  const accept = req.headers.accept;
  if (!accept) return SCIM_MEDIA_TYPE;
  const types = accept.split(",").map((t) => t.split(";")[0]!.trim().toLowerCase());
  if (types.includes(SCIM_MEDIA_TYPE) || types.includes("*/*") || types.includes("application/*")) return SCIM_MEDIA_TYPE;
  return types.includes("application/json") ? "application/json" : SCIM_MEDIA_TYPE;
}

export function sendScim(req: Request, res: Response, status: number, body?: unknown): void {
  res.status(status);
  if (body === undefined) {
    res.end();
    return;
  }
  res.setHeader("Content-Type", `${responseMediaType(req)}; charset=utf-8`);
  res.send(JSON.stringify(body));
}

export const ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error";

/** RFC 7644 §3.12: `status` is a string; scimType only where the RFC defines one. */
export function errorBody(status: number, detail: string, scimType?: string): Record<string, unknown> {
  const body: Record<string, unknown> = { schemas: [ERROR_SCHEMA], status: String(status) };
  if (scimType) body.scimType = scimType;
  body.detail = detail;
  return body;
}
