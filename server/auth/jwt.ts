/**
 * JWT access tokens for the SCIM API (RFC 9068 profile, loosely): ones this server issues at
 * /oauth/token (HS256 with `auth.oauth.signingKey`), and ones from an external authorization server
 * (`auth.jwt`), verified against its JWKS. Both pin the algorithm family so a token can never pick
 * its own verification key type (RFC 8725 §3.1).
 */
import { decodeProtectedHeader, jwtVerify, SignJWT, type JWTPayload } from "jose";
import type { Config } from "../config/schema.js";
import type { Logger } from "../logger.js";
import { JwksCache, JwksUnavailableError } from "./jwks.js";

/** `iss` of tokens we issue when `auth.oauth.issuer` is not set. */
export const DEFAULT_ISSUER = "scimbridge";
/** `aud` of tokens we issue: the SCIM API, as opposed to the token endpoint (RFC 7519 §4.1.3). */
export const SCIM_AUDIENCE = "scimbridge:scim";

const ISSUED_ALG = "HS256";
// Asymmetric algorithms only: a JWKS publishes public keys (RFC 7517 §5); "none" and HS* are refused.
const EXTERNAL_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];

/** Who a verified credential belongs to and what it may do (./scopes.ts). */
export interface Principal {
  name: string;
  scopes: ReadonlySet<string>;
}

/** Why a JWT was refused, for the authentication failure log (never the token itself). */
export type Rejection = { reason: string; ours?: boolean };

/** Scope values from a claim: a space-delimited string (RFC 8693 §4.2 `scope`) or an array (Okta `scp`, Entra `roles`). */
function claimValues(v: unknown): string[] {
  if (typeof v === "string") return v.split(" ").filter(Boolean);
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

/** The calling application: RFC 9068 §2.2 `client_id`, Entra `azp` (v2) or `appid` (v1), Okta `cid`. */
function clientIdOf(payload: JWTPayload): string | undefined {
  for (const claim of ["client_id", "azp", "appid", "cid"]) {
    const v = payload[claim];
    if (typeof v === "string" && v) return v;
  }
  return undefined;
}

export interface IssuedToken {
  accessToken: string;
  expiresIn: number;
}

export class AccessTokens {
  private readonly key: Uint8Array | undefined;
  private readonly issuer: string;
  private readonly lifetime: number;
  /** The external issuer's keys; exposed for /readyz and the admin API. */
  readonly jwks: JwksCache | undefined;

  constructor(
    private readonly auth: Config["auth"],
    private readonly now: () => Date = () => new Date(),
    private readonly logger?: Logger,
  ) {
    this.key = auth.oauth.signingKey === undefined ? undefined : new TextEncoder().encode(auth.oauth.signingKey);
    this.issuer = auth.oauth.issuer ?? DEFAULT_ISSUER;
    this.lifetime = auth.oauth.tokenLifetimeSeconds;
    // Fetched lazily on first use, kept through outages (./jwks.ts).
    this.jwks = auth.jwt ? new JwksCache(auth.jwt.jwksUrl, auth.jwt.jwks, now, logger) : undefined;
  }

  /** True when a Bearer credential may be a JWT worth verifying. */
  get enabled(): boolean {
    return (this.auth.oauth.clients.length > 0 && this.key !== undefined) || this.jwks !== undefined;
  }

  /** Signs an access token for `clientId` with the granted scopes (RFC 6749 §4.4.3, RFC 9068 §2.2). */
  async issue(clientId: string, scopes: string[]): Promise<IssuedToken> {
    if (!this.key) throw new Error("auth.oauth.signingKey is not configured");
    const iat = Math.floor(this.now().getTime() / 1000);
    const accessToken = await new SignJWT({ scope: scopes.join(" "), client_id: clientId })
      .setProtectedHeader({ alg: ISSUED_ALG, typ: "at+jwt" })
      .setIssuer(this.issuer)
      .setAudience(SCIM_AUDIENCE)
      .setSubject(clientId)
      .setIssuedAt(iat)
      .setExpirationTime(iat + this.lifetime)
      .sign(this.key);
    return { accessToken, expiresIn: this.lifetime };
  }

  /**
   * The client behind a JWT access token and its scopes, or why the token is refused: bad
   * signature, wrong iss/aud, expired (RFC 7519 §4.1.4), issued in the future or living longer
   * than allowed (RFC 8725 §3.10), a calling application not on the allow-list, no key to check it.
   */
  async verifyAccessToken(token: string): Promise<Principal | Rejection> {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      return { reason: "not a JWT" }; // e.g. a mistyped opaque token
    }
    const currentDate = this.now();
    const clockTolerance = this.auth.clockSkewSeconds;
    try {
      if (alg === ISSUED_ALG) {
        if (!this.key || !this.auth.oauth.clients.length) return { reason: "HS256 token but no auth.oauth clients" };
        const { payload } = await jwtVerify(token, this.key, {
          algorithms: [ISSUED_ALG],
          issuer: this.issuer,
          audience: SCIM_AUDIENCE,
          requiredClaims: ["sub", "exp"],
          maxTokenAge: this.lifetime + clockTolerance,
          clockTolerance,
          currentDate,
        });
        // A client removed from config loses access at once, not when its token expires; one
        // whose scopes were narrowed keeps only the scopes it still has.
        const client = this.auth.oauth.clients.find((c) => c.clientId === payload.sub);
        if (!client) return { reason: `client ${String(payload.sub)} is no longer configured` };
        return { name: client.clientId, scopes: new Set(claimValues(payload.scope).filter((s) => client.scopes.includes(s))) };
      }
      const jwt = this.auth.jwt;
      if (!this.jwks || !jwt) return { reason: `${String(alg)} token but no auth.jwt issuer` };
      const { payload } = await jwtVerify(token, this.jwks.getKey, {
        algorithms: EXTERNAL_ALGS,
        issuer: jwt.issuer,
        audience: jwt.audience,
        requiredClaims: ["sub", "exp", "iat"],
        maxTokenAge: jwt.maxLifetimeSeconds,
        clockTolerance,
        currentDate,
      });
      // RFC 8725 §3.10: bound what a token may claim, not only what it has lived so far.
      if (payload.exp! - payload.iat! > jwt.maxLifetimeSeconds) return { reason: `token lifetime over auth.jwt.maxLifetimeSeconds (${jwt.maxLifetimeSeconds})` };
      const clientId = clientIdOf(payload);
      if (jwt.clientIds.length && (clientId === undefined || !jwt.clientIds.includes(clientId))) {
        return { reason: `calling application ${clientId ?? "(none)"} is not in auth.jwt.clientIds` };
      }
      const scopes = new Set(jwt.scopeClaims.flatMap((claim) => claimValues(payload[claim])));
      return { name: clientId ?? payload.sub!, scopes };
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      // No keys to check against is the issuer's outage (logged by JwksCache), not the caller's fault.
      if (e instanceof JwksUnavailableError) return { reason: e.message, ours: true };
      return { reason: typeof code === "string" ? `${code}: ${(e as Error).message}` : (e as Error).message };
    }
  }
}

export const isPrincipal = (v: Principal | Rejection): v is Principal => "name" in v;
