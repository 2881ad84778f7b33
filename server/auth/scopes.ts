/**
 * What a SCIM client may do, by scope (RFC 6749 §3.3; RFC 6750 §3.1 `insufficient_scope`). Every
 * credential carries scopes: stored tokens and Basic credentials their configured ones, our own
 * JWTs the `scope` they were issued with, external JWTs the values of `scope`, `scp` or `roles`
 * (Entra puts application permissions in `roles`, https://learn.microsoft.com/en-us/entra/identity-platform/howto-add-app-roles-in-apps).
 *
 *   scim                 everything (the default for stored tokens and Basic credentials)
 *   scim.read            GET and POST …/.search on every resource type and discovery endpoint
 *   scim.write           read, and every write
 *   scim.users.write     read, and writes to /Users
 *   scim.groups.write    read, and writes to /Groups
 */
import type { RequestHandler } from "express";
import { errorBody, sendScim } from "../http/scim-response.js";

declare module "express-serve-static-core" {
  interface Request {
    /** Scopes of the authenticated SCIM client (set by authenticate()). */
    scimScopes?: ReadonlySet<string>;
  }
}

export const FULL_SCOPE = "scim";
export const READ_SCOPE = "scim.read";
export const WRITE_SCOPE = "scim.write";
const TYPE_WRITE_SCOPES: Record<string, string> = { Users: "scim.users.write", Groups: "scim.groups.write" };

/** Every scope with a meaning here; any other value in a token grants nothing. */
export const KNOWN_SCOPES = ["scim", "scim.read", "scim.write", "scim.users.write", "scim.groups.write"] as const;

/** What one request needs: read, or write to some resource endpoints ("*" for all of them). */
export type Need = { kind: "read" } | { kind: "write"; endpoints: string[] };

const SEARCH = /^\/(?:(?:Users|Groups)\/)?\.search$/;

/** The endpoint (`Users`, `Groups`, …) a path under the SCIM base addresses. */
const endpointOf = (path: string) => /^\/([^/?]+)/.exec(path)?.[1] ?? "";

/** The write endpoints a /Bulk body touches (RFC 7644 §3.7: each operation names its `path`). */
function bulkEndpoints(body: unknown): string[] {
  const ops = (body as { Operations?: unknown } | undefined)?.Operations;
  if (!Array.isArray(ops)) return [];
  const out = new Set<string>();
  for (const op of ops as { method?: unknown; path?: unknown }[]) {
    if (typeof op?.method === "string" && op.method.toUpperCase() === "GET") continue;
    out.add(typeof op?.path === "string" ? endpointOf(op.path) || "*" : "*");
  }
  return [...out];
}

/** The permission a SCIM request needs, from its method and path relative to the SCIM base. */
export function needOf(method: string, path: string, body: unknown): Need {
  const m = method.toUpperCase();
  if (m === "GET" || m === "HEAD" || (m === "POST" && SEARCH.test(path))) return { kind: "read" };
  if (m === "POST" && /^\/Bulk\/?$/.test(path)) return { kind: "write", endpoints: bulkEndpoints(body) };
  return { kind: "write", endpoints: [endpointOf(path) || "*"] };
}

/** Whether `scopes` grant `need`. Every known scope grants read: a writer must read back what it wrote. */
export function allows(scopes: ReadonlySet<string>, need: Need): boolean {
  if (scopes.has(FULL_SCOPE) || scopes.has(WRITE_SCOPE)) return true;
  if (need.kind === "read") return KNOWN_SCOPES.some((s) => scopes.has(s));
  return need.endpoints.every((e) => TYPE_WRITE_SCOPES[e] !== undefined && scopes.has(TYPE_WRITE_SCOPES[e]));
}

/** The scopes that would grant `need`, for the error message and the RFC 6750 challenge. */
export function scopesFor(need: Need): string[] {
  if (need.kind === "read") return [READ_SCOPE, WRITE_SCOPE, FULL_SCOPE];
  const typed = need.endpoints.map((e) => TYPE_WRITE_SCOPES[e]).filter((s): s is string => s !== undefined);
  return [WRITE_SCOPE, FULL_SCOPE, ...(typed.length === need.endpoints.length ? typed : [])];
}

/**
 * 403 with a SCIM Error (RFC 7644 §3.12) when the authenticated client's scopes do not cover the
 * request; the challenge says which scope would (RFC 6750 §3.1 `insufficient_scope`).
 */
export function authorize(): RequestHandler {
  return (req, res, next) => {
    const scopes = req.scimScopes;
    if (scopes === undefined) return next(); // an open discovery path: nothing authenticated
    const need = needOf(req.method, req.path, req.body);
    if (allows(scopes, need)) return next();
    const wanted = scopesFor(need);
    res.setHeader("WWW-Authenticate", `Bearer realm="scimbridge", error="insufficient_scope", scope="${wanted.join(" ")}"`);
    const what = need.kind === "read" ? "read" : `write to ${need.endpoints.join(", ")}`;
    sendScim(req, res, 403, errorBody(403, `client ${req.scimClient ?? "(unknown)"} may not ${what}: needs one of the scopes ${wanted.join(", ")}`));
  };
}
