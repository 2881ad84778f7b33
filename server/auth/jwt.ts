/**
 * JWT access tokens for the SCIM API (RFC 9068 profile, loosely): ones this server issues at
 * /oauth/token (HS256 with `auth.oauth.signingKey`), and ones from an external authorization server
 * (`auth.jwt`), verified against its JWKS. Both pin the algorithm family so a token can never pick
 * its own verification key type (RFC 8725 §3.1).
 */
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, SignJWT, type JWTPayload } from "jose";
import type { Config } from "../config/schema.js";
import type { Logger } from "../logger.js";

/** `iss` of tokens we issue when `auth.oauth.issuer` is not set. */
export const DEFAULT_ISSUER = "scimbridge";
/** `aud` of tokens we issue: the SCIM API, as opposed to the token endpoint (RFC 7519 §4.1.3). */
export const SCIM_AUDIENCE = "scimbridge:scim";

const ISSUED_ALG = "HS256";
// Asymmetric algorithms only: a JWKS publishes public keys (RFC 7517 §5); "none" and HS* are refused.
const EXTERNAL_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];

export interface IssuedToken {
  accessToken: string;
  expiresIn: number;
}

export class AccessTokens {
  private readonly key: Uint8Array | undefined;
  private readonly issuer: string;
  private readonly lifetime: number;
  private readonly jwks: ReturnType<typeof createRemoteJWKSet> | undefined;

  constructor(
    private readonly auth: Config["auth"],
    private readonly now: () => Date = () => new Date(),
    private readonly logger?: Logger,
  ) {
    this.key = auth.oauth.signingKey === undefined ? undefined : new TextEncoder().encode(auth.oauth.signingKey);
    this.issuer = auth.oauth.issuer ?? DEFAULT_ISSUER;
    this.lifetime = auth.oauth.tokenLifetimeSeconds;
    // Fetched lazily on first use and cached; jose refetches on an unknown `kid` (key rotation).
    this.jwks = auth.jwt ? createRemoteJWKSet(new URL(auth.jwt.jwksUrl)) : undefined;
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
   * The client behind a JWT access token (`sub`), or undefined when the token is not one we accept:
   * bad signature, wrong iss/aud, expired (RFC 7519 §4.1.4), or a key we cannot fetch.
   */
  async verifyAccessToken(token: string): Promise<string | undefined> {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      return undefined; // not a JWS at all (e.g. a mistyped opaque token)
    }
    const currentDate = this.now();
    try {
      let payload: JWTPayload;
      if (alg === ISSUED_ALG) {
        if (!this.key || !this.auth.oauth.clients.length) return undefined;
        ({ payload } = await jwtVerify(token, this.key, {
          algorithms: [ISSUED_ALG],
          issuer: this.issuer,
          audience: SCIM_AUDIENCE,
          requiredClaims: ["sub", "exp"],
          currentDate,
        }));
        // A client removed from config loses access at once, not when its token expires.
        if (!this.auth.oauth.clients.some((c) => c.clientId === payload.sub)) return undefined;
      } else {
        if (!this.jwks || !this.auth.jwt) return undefined;
        ({ payload } = await jwtVerify(token, this.jwks, {
          algorithms: EXTERNAL_ALGS,
          issuer: this.auth.jwt.issuer,
          audience: this.auth.jwt.audience,
          requiredClaims: ["sub", "exp"],
          currentDate,
        }));
        // RFC 9068 §2.2 names the client in `client_id`; Entra uses `azp` (v2) or `appid` (v1).
        const name = payload.client_id ?? payload.azp ?? payload.appid;
        if (typeof name === "string" && name) return name;
      }
      return payload.sub;
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      // A JWKS that cannot be fetched is the operator's problem, not the client's: say so in the log.
      if (code === undefined || code === "ERR_JWKS_TIMEOUT" || code === "ERR_JWKS_INVALID") {
        this.logger?.warn({ err: (e as Error).message, jwksUrl: this.auth.jwt?.jwksUrl }, "cannot fetch the JWKS for auth.jwt");
      } else {
        this.logger?.debug({ reason: code }, "JWT access token rejected");
      }
      return undefined;
    }
  }
}
