/**
 * Authentication for the SCIM edge: Bearer tokens (scheme word case-insensitive, RFC 7235 §2.1;
 * plus configured alternates such as PingFederate's "Authorization Header Type" `oauth2`) and
 * HTTP Basic credentials from config (RFC 7617). Failure: 401 with a SCIM Error body and
 * WWW-Authenticate (RFC 7644 §2).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { RequestHandler } from "express";
import type { IncomingMessage } from "node:http";
import type { Config } from "../config/schema.js";
import { errorBody, sendScim } from "../http/scim-response.js";
import { isPrincipal, type AccessTokens, type Principal } from "./jwt.js";
import { FULL_SCOPE } from "./scopes.js";
import { callerOf, type FailureThrottle } from "./throttle.js";
import type { TokenService } from "./tokens.js";

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

/** Constant-time equality of two strings of any length (compares fixed-size digests). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

export interface AuthOptions {
  config: Config["auth"];
  tokens: TokenService;
  /** JWT access tokens (OAuth client credentials or an external issuer); tried when a Bearer credential is not a stored token. */
  jwt?: Pick<AccessTokens, "verifyAccessToken" | "enabled"> | undefined;
  /** Failure budget per caller; without it failures are neither throttled nor logged. */
  throttle?: FailureThrottle | undefined;
  /** Paths (relative to the SCIM base) that pass without credentials. */
  isOpen?: (path: string) => boolean;
  /**
   * The SCIM client a verified TLS client certificate names (server.tls.clients), asked only when
   * the request carries no Authorization header: a request with credentials is judged by those.
   */
  certificateClient?: ((req: IncomingMessage) => Principal | undefined) | undefined;
}

export function parseAuthorization(header: string | undefined): { scheme: string; credentials: string } | undefined {
  if (!header) return undefined;
  const m = /^\s*([^\s]+)\s+(.+?)\s*$/.exec(header);
  return m ? { scheme: m[1]!.toLowerCase(), credentials: m[2]! } : undefined;
}

export function authenticate(opts: AuthOptions): RequestHandler {
  const bearerSchemes = new Set(["bearer", ...opts.config.bearerSchemes.map((s) => s.toLowerCase())]);
  const challenges = ['Bearer realm="scimbridge"'];
  if (opts.config.basic.length) challenges.push('Basic realm="scimbridge", charset="UTF-8"');

  const checkBasic = (credentials: string): Principal | undefined => {
    const decoded = Buffer.from(credentials, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) return undefined;
    const user = decoded.slice(0, colon);
    const pass = decoded.slice(colon + 1);
    let match: Principal | undefined;
    // Check every credential so the time taken does not tell which usernames exist.
    for (const c of opts.config.basic) {
      const ok = safeEqual(c.username, user) && safeEqual(c.password, pass);
      if (ok && match === undefined) match = { name: c.name ?? c.username, scopes: new Set(c.scopes) };
    }
    return match;
  };
  const fullAccess: ReadonlySet<string> = new Set([FULL_SCOPE]);

  // Express 5 forwards a rejected promise to the error boundary; verifyAccessToken never rejects.
  return async (req, res, next) => {
    if (opts.isOpen?.(req.path)) return next();
    const byCertificate = req.headers.authorization === undefined ? opts.certificateClient?.(req) : undefined;
    if (byCertificate) {
      req.scimClient = byCertificate.name;
      req.scimScopes = byCertificate.scopes;
      return next();
    }
    const auth = parseAuthorization(req.headers.authorization);
    const basic = auth?.scheme === "basic" && opts.config.basic.length > 0 ? auth.credentials : undefined;
    // The Basic user name is part of the caller for the failure budget; a bearer credential names nobody.
    const caller = callerOf(req, basic === undefined ? undefined : Buffer.from(basic, "base64").toString("utf8").split(":")[0]);
    const wait = opts.throttle?.retryAfter(caller) ?? 0;
    if (wait > 0) {
      res.setHeader("Retry-After", String(wait)); // RFC 6585 §4
      sendScim(req, res, 429, errorBody(429, `too many failed authentication attempts; retry in ${wait} s`));
      return;
    }
    let principal: Principal | undefined;
    let reason = auth ? "invalid credentials" : "no credentials";
    let callersFault = auth !== undefined;
    if (auth && bearerSchemes.has(auth.scheme)) {
      const name = await opts.tokens.verify(auth.credentials);
      if (name !== undefined) principal = { name, scopes: fullAccess };
      // RFC 6750 §2.1: the same Bearer header carries a JWT from /oauth/token or an external issuer.
      else if (opts.jwt?.enabled) {
        const verified = await opts.jwt.verifyAccessToken(auth.credentials);
        if (isPrincipal(verified)) principal = verified;
        else ({ reason, callersFault } = { reason: verified.reason, callersFault: !verified.ours });
      } else reason = "unknown bearer token";
    } else if (basic !== undefined) {
      principal = checkBasic(basic);
      if (!principal) reason = "wrong Basic user name or password";
    } else if (auth) reason = `unsupported scheme ${auth.scheme}`;
    if (principal === undefined) {
      // No credentials at all is a client's first request (RFC 7235 §3.1), not a guess; keys we
      // cannot fetch are our fault: neither spends the caller's budget.
      if (callersFault) opts.throttle?.fail(caller, "scim", reason);
      res.setHeader("WWW-Authenticate", challenges.join(", "));
      const detail = auth ? "invalid credentials" : "authentication required: send Authorization: Bearer <token>";
      sendScim(req, res, 401, errorBody(401, detail));
      return;
    }
    req.scimClient = principal.name;
    req.scimScopes = principal.scopes;
    next();
  };
}
