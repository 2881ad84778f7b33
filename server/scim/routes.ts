/**
 * SCIM resource endpoints (RFC 7644 §3.2–3.6). Thin: parse the request, call the service, shape
 * the response. Every error goes to the one boundary through next().
 */
import { Router, type Request, type Response } from "express";
import { badRequest } from "../../schemas/errors.js";
import type { ResourceKind } from "../../schemas/registry.js";
import { sendScim } from "../http/scim-response.js";
import { parseListParams, readAttributes, type ListParams, type PagingLimits } from "./list-params.js";
import { locationOf, type RenderContext } from "../../schemas/render.js";
import type { ListResult, RequestContext, ResourceService, WriteResult } from "./service.js";

export const LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
export const SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

export type BaseUrlOf = (req: Request) => string;

export function contextOf(req: Request, baseUrlOf: BaseUrlOf): RequestContext {
  return { baseUrl: baseUrlOf(req), client: req.scimClient };
}


const header = (req: Request, name: string) => {
  const v = req.headers[name];
  return typeof v === "string" ? v : undefined;
};

/** A ListResponse (RFC 7644 §3.4.2), with RFC 9865 §2's nextCursor and previousCursor on a cursor page. */
export function listResponse(r: ListResult) {
  return {
    schemas: [LIST_RESPONSE],
    totalResults: r.totalResults,
    ...(r.startIndex === undefined ? {} : { startIndex: r.startIndex }),
    itemsPerPage: r.itemsPerPage,
    ...(r.previousCursor === undefined ? {} : { previousCursor: r.previousCursor }),
    ...(r.nextCursor === undefined ? {} : { nextCursor: r.nextCursor }),
    Resources: r.resources,
  };
}

/** The body of POST /.search (RFC 7644 §3.4.3) as list parameters. */
export function searchParams(body: unknown, limits: PagingLimits): ListParams {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw badRequest("invalidSyntax", "a SearchRequest must be a JSON object");
  }
  return parseListParams(body as Record<string, unknown>, limits);
}

function sendWrite(req: Request, res: Response, status: number, r: WriteResult): void {
  res.setHeader("ETag", r.etag);
  sendScim(req, res, status, r.resource);
}

/** The `return` preference of a Prefer header (RFC 7240 §4.2), if any. */
function returnPreference(req: Request): "minimal" | "representation" | undefined {
  const m = /(?:^|[,;\s])return\s*=\s*"?(minimal|representation)\b/i.exec(header(req, "prefer") ?? "");
  return m ? (m[1]!.toLowerCase() as "minimal" | "representation") : undefined;
}

/**
 * Whether a PATCH answers 200 with the resource or 204 without a body (RFC 7644 §3.5.2 allows
 * either). `Prefer: return=minimal` or `return=representation` (RFC 7240 §4.2) decides when sent;
 * then `attributes` (§3.5.2: with it the server MUST answer 200) or `excludedAttributes` asks for a
 * body. Otherwise a Group answers as scim.groupPatchResponse says, 204 by default: Entra documents
 * 204 for group PATCH and Okta, PingFederate and PingOne accept it (docs/research/idp-traffic.md),
 * and a body would hold every member (a 10,000-member group is 1.5 MB). A User answers 200.
 */
export function patchAnswer(req: Request, kind: ResourceKind, limits: PagingLimits): "minimal" | "representation" {
  const preferred = returnPreference(req);
  if (preferred !== undefined) return preferred;
  if (req.query.attributes !== undefined || req.query.excludedAttributes !== undefined) return "representation";
  return kind === "Group" && (limits.groupPatchResponse ?? "minimal") === "minimal" ? "minimal" : "representation";
}

export function resourceRouter(
  service: ResourceService,
  kind: ResourceKind,
  limits: PagingLimits,
  baseUrlOf: BaseUrlOf,
): Router {
  const router = Router();
  const readOptions = (req: Request) => readAttributes(req.query, limits);
  const ctx = (req: Request) => ({ ...contextOf(req, baseUrlOf), read: readOptions(req) });

  router.get("/", async (req, res) => {
    const params = parseListParams(req.query as Record<string, unknown>, limits);
    sendScim(req, res, 200, listResponse(await service.list(kind, params, ctx(req))));
  });

  router.post("/.search", async (req, res) => {
    sendScim(req, res, 200, listResponse(await service.list(kind, searchParams(req.body, limits), ctx(req))));
  });

  router.get("/:id", async (req, res) => {
    const id = req.params.id!;
    // RFC 7644 §3.14 / RFC 7232 §3.2: a matching If-None-Match answers 304 without a body.
    const inm = header(req, "if-none-match");
    if (inm !== undefined) {
      const etag = await service.etag(kind, id);
      if (etag !== undefined && inm.split(",").some((t) => t.trim().replace(/^W\//, "") === etag || t.trim() === "*")) {
        res.setHeader("ETag", etag);
        res.status(304).end();
        return;
      }
    }
    sendWrite(req, res, 200, await service.get(kind, id, ctx(req), readOptions(req)));
  });

  router.post("/", async (req, res) => {
    const r = await service.create(kind, req.body, ctx(req));
    // RFC 7644 §3.3: the Location header carries the resource URI, equal to meta.location.
    res.setHeader("Location", locationOf(ctx(req) as RenderContext, kind, r.id));
    sendWrite(req, res, 201, r);
  });

  router.put("/:id", async (req, res) => {
    const r = await service.replace(kind, req.params.id!, req.body, ctx(req), header(req, "if-match"));
    sendWrite(req, res, 200, r);
  });

  router.patch("/:id", async (req, res) => {
    const answer = patchAnswer(req, kind, limits);
    // A 204 renders nothing: no reason to load a large group's members.
    const context = answer === "minimal" ? { ...ctx(req), read: "none" as const } : ctx(req);
    const r = await service.patch(kind, req.params.id!, req.body, context, header(req, "if-match"));
    if (returnPreference(req) !== undefined) res.setHeader("Preference-Applied", `return=${answer}`);
    if (answer === "minimal") {
      res.setHeader("ETag", r.etag);
      res.status(204).end();
      return;
    }
    sendWrite(req, res, 200, r);
  });

  router.delete("/:id", async (req, res) => {
    await service.remove(kind, req.params.id!, ctx(req), header(req, "if-match"));
    res.status(204).end();
  });

  return router;
}
