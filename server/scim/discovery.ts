/**
 * Discovery endpoints (RFC 7644 §4): /ServiceProviderConfig, /ResourceTypes, /Schemas and
 * /Schemas/{id}, served by scimmy-routers from scimmy's definitions. The router is confined to
 * these paths; it forces patch/filter/sort/bulk "supported" when constructed, so the
 * ServiceProviderConfig is set afterwards to what this server really does (no false claims).
 */
import type { Request, RequestHandler, Response } from "express";
import SCIMMYRouters from "scimmy-routers";
import { declareScimmyResources, SCIMMY } from "../../schemas/scimmy-declarations.js";
import type { SchemaRegistry } from "../../schemas/registry.js";
import { badRequest } from "../../schemas/errors.js";
import { FilterError } from "../../schemas/filter/ast.js";
import { isAttributePath, parseFilter } from "../../schemas/filter/parse.js";
import type { Config } from "../config/schema.js";
import { CURSOR_TIMEOUT_SECONDS } from "./service.js";

export const DISCOVERY_PATH = /^\/(ServiceProviderConfig|ResourceTypes|Schemas)(\/[^/]+)?$/i;

export interface Capabilities {
  bulk?: { maxOperations: number; maxPayloadSize: number } | undefined;
  changePassword: boolean;
}

export function serviceProviderConfig(config: Config, caps: Capabilities) {
  const schemes = [
    {
      type: "oauthbearertoken",
      name: "OAuth Bearer Token",
      description: "Authorization: Bearer <token>; tokens are issued with `scimbridge token create NAME`",
      specUri: "https://datatracker.ietf.org/doc/html/rfc6750",
      primary: true,
    },
  ];
  if (config.auth.oauth.clients.length) {
    // RFC 7643 §5: "oauth2" names the scheme; the token endpoint is outside the SCIM base path.
    schemes.push({
      type: "oauth2",
      name: "OAuth 2 client credentials",
      description: "POST /oauth/token with grant_type=client_credentials (client_secret_basic or client_secret_post), then Authorization: Bearer <access_token>",
      specUri: "https://datatracker.ietf.org/doc/html/rfc6749#section-4.4",
      primary: false,
    });
  }
  if (config.auth.basic.length) {
    schemes.push({
      type: "httpbasic",
      name: "HTTP Basic",
      description: "HTTP Basic with credentials from the configuration",
      specUri: "https://datatracker.ietf.org/doc/html/rfc7617",
      primary: false,
    });
  }
  return {
    documentationUri: "https://datatracker.ietf.org/doc/html/rfc7644",
    patch: { supported: true },
    bulk: caps.bulk ? { supported: true, ...caps.bulk } : { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: config.scim.maxPageSize },
    changePassword: { supported: caps.changePassword },
    sort: { supported: true },
    etag: { supported: true },
    authenticationSchemes: schemes,
  };
}

/**
 * RFC 9865 §4: `pagination` says which paging methods are served and their bounds. Index paging
 * stays the default (RFC 9865 §2.4: a server that had only index paging keeps it as the default,
 * so existing clients see no change); a request with `cursor` gets cursor paging.
 */
export function paginationCapabilities(config: Config) {
  return {
    cursor: true,
    index: true,
    defaultPaginationMethod: "index",
    defaultPageSize: config.scim.defaultPageSize,
    maxPageSize: config.scim.maxPageSize,
    cursorTimeout: CURSOR_TIMEOUT_SECONDS,
  };
}

/**
 * What scimmy's ServiceProviderConfig schema cannot hold (it refuses attributes it lacks), added
 * to the body it renders; clients ignore attributes they do not know (RFC 7643 §2.1
 * extensibility). `patch.maxOperations` (scim.limits.patchOperations; RFC 7643 §5 defines no PATCH
 * limit) sits beside `supported` as `bulk.maxOperations` does for /Bulk, so a client that reads it
 * knows where a PATCH is split; `pagination` is RFC 9865 §4's.
 */
function advertiseBeyondScimmy(res: Response, config: Config): void {
  const send = res.send.bind(res);
  res.send = ((body: unknown) => {
    try {
      const parsed = (typeof body === "string" ? JSON.parse(body) : Buffer.isBuffer(body) ? JSON.parse(body.toString("utf8")) : body) as Record<string, unknown>;
      if (parsed && typeof parsed.patch === "object" && parsed.patch !== null) {
        (parsed.patch as Record<string, unknown>).maxOperations = config.scim.limits.patchOperations;
        parsed.pagination = paginationCapabilities(config);
        return send(JSON.stringify(parsed));
      }
    } catch {
      // Not the JSON we expected (an error page): sent as it is.
    }
    return send(body);
  }) as Response["send"];
}

/** A handler for the discovery paths; other paths fall through with next(). */
export function discoveryHandler(registry: SchemaRegistry, config: Config, caps: Capabilities, baseUrlOf: (req: Request) => string): RequestHandler {
  declareScimmyResources(registry);
  const router = new SCIMMYRouters({
    type: "bearer",
    docUri: "https://datatracker.ietf.org/doc/html/rfc6750",
    // Authentication already ran in our own middleware before this router is reached.
    handler: () => "",
    // scimmy-routers appends req.baseUrl (the SCIM base path) to what this returns.
    baseUri: (req) => {
      const base = baseUrlOf(req);
      return base.endsWith(req.baseUrl) ? base.slice(0, base.length - req.baseUrl.length) : base;
    },
  });
  const assert = () => {
    // authenticationSchemes are cumulative in scimmy; an empty array resets them first.
    SCIMMY.Config.set("authenticationSchemes" as never, [] as never);
    SCIMMY.Config.set(serviceProviderConfig(config, caps) as never);
  };
  assert();
  const handle = router as unknown as RequestHandler;
  return (req, res, next) => {
    if (!DISCOVERY_PATH.test(req.path)) return next();
    // scimmy keeps one global config; re-assert ours in case another app in this process changed it.
    assert();
    // scimmy parses these lists as filters and throws a TypeError (a 500) on a name that is not
    // an attribute path (a number, say): refused here as the client's error, RFC 7644 §3.10.
    for (const key of ["attributes", "excludedAttributes"] as const) {
      // Raw, empty names included (`,groups`): scimmy reads each element as it is.
      const raw = req.query[key];
      const names = (Array.isArray(raw) ? raw : [raw]).filter((x): x is string => typeof x === "string" && x.trim() !== "").flatMap((s) => s.split(","));
      const bad = names.map((a) => a.trim()).find((a) => !isAttributePath(a));
      if (bad !== undefined) throw badRequest("invalidValue", `${key} names ${JSON.stringify(bad.slice(0, 100))}, which is not an attribute path (RFC 7644 §3.10)`);
    }
    // Likewise a filter scimmy cannot read (`filter=userName`, a repeated parameter): checked
    // with our own parser first (RFC 7644 §3.4.2.2), 400 invalidFilter.
    const filter = req.query.filter;
    if (filter !== undefined) {
      if (typeof filter !== "string") throw badRequest("invalidFilter", "filter must be given once, as a string");
      try {
        parseFilter(filter, { maxLength: config.scim.limits.filterLength, maxDepth: config.scim.limits.filterDepth });
      } catch (e) {
        if (e instanceof FilterError) throw badRequest("invalidFilter", e.message);
        throw e;
      }
    }
    if (/^\/ServiceProviderConfig$/i.test(req.path)) advertiseBeyondScimmy(res, config);
    return handle(req, res, next);
  };
}
