/**
 * An external authorization server for tests: an ES256 key, its JWKS served on 127.0.0.1 (which
 * the test can make fail or stop), and access tokens signed with `jose` as Entra, Okta or
 * PingFederate would sign them.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";

export const ISSUER = "https://login.example.test/tenant/v2.0";
export const AUDIENCE = "api://scimbridge";

export interface Issuer {
  jwksUrl: string;
  /** Requests the JWKS endpoint has received. */
  requests: number;
  /** "ok" serves the keys; "fail" answers 500 (stop() closes the listener: connection refused). */
  mode: "ok" | "fail";
  sign(claims?: Record<string, unknown>, opts?: { kid?: string; iat?: number; exp?: number; aud?: string }): Promise<string>;
  stop(): Promise<void>;
  close(): Promise<void>;
}

export async function startIssuer(): Promise<Issuer> {
  const { publicKey, privateKey } = await generateKeyPair("ES256");
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  const issuer: Issuer = {
    jwksUrl: "",
    requests: 0,
    mode: "ok",
    async sign(claims = {}, opts = {}) {
      const now = Math.floor(Date.now() / 1000);
      const iat = opts.iat ?? now;
      return new SignJWT({ azp: "entra-app", ...claims })
        .setProtectedHeader({ alg: "ES256", kid: opts.kid ?? "k1" })
        .setIssuer(ISSUER)
        .setAudience(opts.aud ?? AUDIENCE)
        .setSubject("service-principal-oid")
        .setIssuedAt(iat)
        .setExpirationTime(opts.exp ?? iat + 3600)
        .sign(privateKey);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
    close: () => issuer.stop(),
  };
  const server: Server = createServer((req, res) => {
    issuer.requests++;
    if (issuer.mode === "fail" || req.url !== "/jwks.json") return void res.writeHead(500).end();
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  issuer.jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  return issuer;
}
