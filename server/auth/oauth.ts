/**
 * The OAuth 2 token endpoint for the client credentials grant (RFC 6749 §4.4), as PingFederate,
 * PingOne and Entra gallery apps use it: POST /oauth/token, form-encoded, client authenticated by
 * `client_secret_basic` or `client_secret_post` (§2.3.1), optional `scope` (§3.3). Responses follow
 * §5.1 (success) and §5.2 (errors), always JSON with `Cache-Control: no-store`.
 */
import type { ErrorRequestHandler, Request, RequestHandler, Response } from "express";
import type { Config } from "../config/schema.js";
import type { AccessTokens } from "./jwt.js";
import { safeEqual } from "./middleware.js";
import { callerOf, type FailureThrottle } from "./throttle.js";

type OAuthErrorCode = "invalid_request" | "invalid_client" | "invalid_grant" | "unsupported_grant_type" | "invalid_scope" | "temporarily_unavailable";

/**
 * An RFC 6749 §5.2 error; `invalid_client` is 401, the rest 400. A throttled caller gets 429 (RFC
 * 6585 §4) with `temporarily_unavailable`, the code §4.1.2.1 gives a server that cannot serve now.
 */
export class OAuthError extends Error {
  readonly status: number;
  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    readonly retryAfter?: number,
  ) {
    super(description);
    this.status = retryAfter !== undefined ? 429 : error === "invalid_client" ? 401 : 400;
  }
}

export interface ClientCredentials {
  clientId: string;
  /** Every reading of the secret worth comparing (see parseBasic). */
  secrets: string[];
}

/** application/x-www-form-urlencoded decoding (`+` is a space), or undefined when malformed. */
function formDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s.replace(/\+/g, " "));
  } catch {
    return undefined;
  }
}

/**
 * Client credentials from `Authorization: Basic` (RFC 6749 §2.3.1): id and secret are
 * form-urlencoded before base64. Some clients skip that step, so when decoding changes the secret
 * the raw reading is tried too; a secret containing `%` or `+` still works either way.
 */
export function parseBasic(credentials: string): ClientCredentials | undefined {
  const decoded = Buffer.from(credentials, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  const rawId = decoded.slice(0, colon);
  const rawSecret = decoded.slice(colon + 1);
  const clientId = formDecode(rawId) ?? rawId;
  const secret = formDecode(rawSecret);
  return { clientId, secrets: secret === undefined || secret === rawSecret ? [rawSecret] : [secret, rawSecret] };
}

/** Requested scopes: space-delimited per RFC 6749 §3.3, or comma-delimited as PingFederate's UI takes them. */
export function parseScope(scope: string | undefined): string[] | undefined {
  if (scope === undefined) return undefined;
  const list = [...new Set(scope.split(/[\s,]+/).filter(Boolean))];
  return list.length ? list : undefined;
}

type Client = Config["auth"]["oauth"]["clients"][number];

/** The configured client matching id and secret, checking every client and secret without early exit. */
export function authenticateClient(clients: Client[], presented: ClientCredentials): Client | undefined {
  let match: Client | undefined;
  for (const c of clients) {
    const idOk = safeEqual(c.clientId, presented.clientId);
    let secretOk = false;
    for (const s of presented.secrets) secretOk = safeEqual(c.clientSecret, s) || secretOk;
    if (idOk && secretOk && match === undefined) match = c;
  }
  return match;
}

/** Granted scopes: all the client's when none are asked for (§3.3 default), else a subset or invalid_scope. */
export function grantScopes(client: Client, requested: string[] | undefined): string[] {
  if (!requested) return client.scopes;
  const denied = requested.filter((s) => !client.scopes.includes(s));
  if (denied.length) throw new OAuthError("invalid_scope", `scope not allowed for this client: ${denied.join(" ")}`);
  return requested;
}

/** A single-valued form parameter; RFC 6749 §3.2 forbids repeating one. */
function param(body: Record<string, unknown>, name: string): string | undefined {
  const v = body[name];
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw new OAuthError("invalid_request", `parameter ${name} must appear once`);
  return v;
}

/** Client authentication from the request: exactly one method (RFC 6749 §2.3). */
function presentedCredentials(req: Request, body: Record<string, unknown>): ClientCredentials {
  const header = /^\s*basic\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
  const postId = param(body, "client_id");
  const postSecret = param(body, "client_secret");
  if (header) {
    if (postSecret !== undefined) throw new OAuthError("invalid_request", "use one client authentication method, not Basic and client_secret both");
    const basic = parseBasic(header[1]!);
    if (!basic) throw new OAuthError("invalid_client", "malformed Basic credentials");
    if (postId !== undefined && postId !== basic.clientId) throw new OAuthError("invalid_request", "client_id does not match the Basic credentials");
    return basic;
  }
  if (postId === undefined || postSecret === undefined) {
    throw new OAuthError("invalid_client", "client authentication required: HTTP Basic or client_id and client_secret");
  }
  return { clientId: postId, secrets: [postSecret] };
}

function send(res: Response, status: number, body: object): void {
  // RFC 6749 §5.1: token responses must not be cached.
  res.status(status).set({ "Cache-Control": "no-store", Pragma: "no-cache" }).json(body);
}

function sendError(res: Response, e: OAuthError): void {
  // RFC 6749 §5.2: a 401 invalid_client carries a challenge for the scheme clients can use.
  if (e.status === 401) res.setHeader("WWW-Authenticate", 'Basic realm="scimbridge-oauth", charset="UTF-8"');
  if (e.retryAfter !== undefined) res.setHeader("Retry-After", String(e.retryAfter));
  send(res, e.status, { error: e.error, error_description: e.description });
}

/** POST /oauth/token. Needs express.urlencoded in front of it. */
export function tokenEndpoint(auth: Config["auth"], tokens: AccessTokens, throttle?: FailureThrottle): RequestHandler {
  return async (req, res) => {
    try {
      // RFC 6749 §4.4.2: the request body is application/x-www-form-urlencoded.
      if (!req.is("application/x-www-form-urlencoded")) {
        throw new OAuthError("invalid_request", "send the request as application/x-www-form-urlencoded");
      }
      const body = (req.body ?? {}) as Record<string, unknown>;
      const grantType = param(body, "grant_type");
      if (grantType === undefined) throw new OAuthError("invalid_request", "grant_type is required");
      if (grantType !== "client_credentials") throw new OAuthError("unsupported_grant_type", "only grant_type=client_credentials is supported");
      const requested = parseScope(param(body, "scope"));
      const presented = presentedCredentials(req, body);
      // The budget is per address and claimed client id: guessing one client's secret never
      // refuses another client, nor this client calling from elsewhere.
      const caller = callerOf(req, presented.clientId);
      const wait = throttle?.retryAfter(caller) ?? 0;
      if (wait > 0) throw new OAuthError("temporarily_unavailable", `too many failed attempts for this client; retry in ${wait} s`, wait);
      const client = authenticateClient(auth.oauth.clients, presented);
      if (!client) {
        throttle?.fail(caller, "/oauth/token", "unknown client or wrong secret");
        throw new OAuthError("invalid_client", "unknown client or wrong secret");
      }
      const scopes = grantScopes(client, requested);
      const issued = await tokens.issue(client.clientId, scopes);
      req.scimClient = client.clientId;
      // RFC 6749 §4.4.3: no refresh token for client credentials.
      send(res, 200, { access_token: issued.accessToken, token_type: "Bearer", expires_in: issued.expiresIn, scope: scopes.join(" ") });
    } catch (e) {
      if (!(e instanceof OAuthError)) throw e;
      sendError(res, e);
    }
  };
}

/** Body-parser failures at the token endpoint (malformed or oversized form) as RFC 6749 §5.2 errors. */
export const tokenEndpointErrors: ErrorRequestHandler = (err: { status?: unknown; message?: unknown }, _req, res, next) => {
  if (typeof err.status !== "number" || err.status >= 500) return next(err);
  sendError(res, new OAuthError("invalid_request", `unreadable request body: ${String(err.message)}`));
};
