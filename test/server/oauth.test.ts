/**
 * OAuth 2 client credentials (RFC 6749 §4.4) at /oauth/token, and JWT access tokens on the SCIM
 * API: our own (HS256) and an external issuer's, verified against a JWKS served on 127.0.0.1.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_ISSUER, SCIM_AUDIENCE } from "../../server/auth/jwt.js";
import { parseBasic, parseScope } from "../../server/auth/oauth.js";
import { parseConfig } from "../../server/config/load.js";
import { testApp, type TestApp } from "../helpers/app.js";

const KEY = "k".repeat(32);
const SECRET = "s3cret+with:colon%and space";
const oauthDoc = (extra: Record<string, unknown> = {}) => ({
  auth: {
    oauth: {
      signingKey: KEY,
      clients: [
        { clientId: "pingfed", clientSecret: SECRET, scopes: ["scim", "scim:read"] },
        { clientId: "entra", clientSecret: "another-long-secret" },
      ],
      ...extra,
    },
  },
});
const form = encodeURIComponent;
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

let t: TestApp;
afterEach(() => t?.close());

async function token(body: string, headers: Record<string, string> = {}) {
  return t.http.post("/oauth/token").type("form").set(headers).send(body);
}

describe("POST /oauth/token", () => {
  it("client_secret_basic with form-urlencoded id and secret (RFC 6749 §2.3.1)", async () => {
    t = await testApp(oauthDoc());
    const res = await token("grant_type=client_credentials", { Authorization: basic(form("pingfed"), form(SECRET)) });
    expect(res.status).toBe(200);
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(res.body).toMatchObject({ token_type: "Bearer", expires_in: 3600, scope: "scim scim:read" });
    expect(typeof res.body.access_token).toBe("string");
  });

  it("client_secret_basic from a client that skips the urlencoding step", async () => {
    t = await testApp(oauthDoc());
    const res = await token("grant_type=client_credentials", { Authorization: basic("pingfed", SECRET) });
    expect(res.status).toBe(200);
  });

  it("client_secret_post", async () => {
    t = await testApp(oauthDoc());
    const res = await token(`grant_type=client_credentials&client_id=entra&client_secret=${form("another-long-secret")}`);
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe("scim"); // the default allowed scope
  });

  it.each([
    ["space-separated (RFC 6749 §3.3)", "scim scim:read"],
    ["comma-separated (PingFederate UI)", "scim,scim:read"],
    ["comma and space", "scim, scim:read"],
  ])("scope %s", async (_n, scope) => {
    t = await testApp(oauthDoc());
    const res = await token(`grant_type=client_credentials&scope=${form(scope)}`, { Authorization: basic("pingfed", form(SECRET)) });
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe("scim scim:read");
  });

  it("a scope the client may not have: 400 invalid_scope", async () => {
    t = await testApp(oauthDoc());
    const res = await token("grant_type=client_credentials&scope=admin", { Authorization: basic("pingfed", form(SECRET)) });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid_scope");
  });

  it.each([
    ["wrong secret (Basic)", "grant_type=client_credentials", { Authorization: basic("pingfed", "wrong-secret-value") }],
    ["wrong secret (post)", "grant_type=client_credentials&client_id=entra&client_secret=nope", {}],
    ["unknown client", "grant_type=client_credentials&client_id=nobody&client_secret=another-long-secret", {}],
    ["no client authentication", "grant_type=client_credentials", {}],
  ])("%s: 401 invalid_client with WWW-Authenticate Basic (RFC 6749 §5.2)", async (_n, body, headers) => {
    t = await testApp(oauthDoc());
    const res = await token(body, headers);
    expect(res.status).toBe(401);
    expect(res.headers["www-authenticate"]).toMatch(/^Basic /);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expect(res.body.error).toBe("invalid_client");
  });

  it("unsupported grant type: 400 unsupported_grant_type", async () => {
    t = await testApp(oauthDoc());
    const res = await token("grant_type=password&username=a&password=b", { Authorization: basic("pingfed", form(SECRET)) });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("unsupported_grant_type");
  });

  it.each([
    ["no grant_type", "client_id=entra&client_secret=another-long-secret", {}],
    ["a repeated parameter (RFC 6749 §3.2)", "grant_type=client_credentials&grant_type=client_credentials&client_id=entra&client_secret=another-long-secret", {}],
    ["two client authentication methods (RFC 6749 §2.3)", "grant_type=client_credentials&client_secret=x", { Authorization: basic("pingfed", form(SECRET)) }],
  ])("%s: 400 invalid_request", async (_n, body, headers) => {
    t = await testApp(oauthDoc());
    const res = await token(body, headers);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid_request");
  });

  it("a JSON body: 400 invalid_request (RFC 6749 §4.4.2 wants a form)", async () => {
    t = await testApp(oauthDoc());
    const res = await t.http.post("/oauth/token").send({ grant_type: "client_credentials", client_id: "entra", client_secret: "another-long-secret" });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid_request");
  });

  it("is not mounted when no client is configured", async () => {
    t = await testApp();
    expect((await token("grant_type=client_credentials")).status).toBe(404);
  });

  it("ServiceProviderConfig lists the oauth2 scheme", async () => {
    t = await testApp(oauthDoc());
    const res = await t.http.get("/scim/v2/ServiceProviderConfig").set(t.auth);
    expect(res.body.authenticationSchemes.map((s: { type: string }) => s.type)).toEqual(["oauthbearertoken", "oauth2"]);
  });
});

describe("issued tokens on the SCIM API", () => {
  const issue = async () =>
    (await token("grant_type=client_credentials", { Authorization: basic("pingfed", form(SECRET)) })).body.access_token as string;

  it("an issued token works on GET /scim/v2/Users, also with a configured alternate scheme word", async () => {
    t = await testApp({ auth: { ...oauthDoc().auth, bearerSchemes: ["oauth2"] } });
    const at = await issue();
    expect((await t.http.get("/scim/v2/Users").set("Authorization", `Bearer ${at}`)).status).toBe(200);
    expect((await t.http.get("/scim/v2/Users").set("Authorization", `oauth2 ${at}`)).status).toBe(200);
  });

  it("expires after tokenLifetimeSeconds and the clock skew allowance (RFC 7519 §4.1.4)", async () => {
    let clock = new Date("2030-01-01T00:00:00Z");
    t = await testApp(oauthDoc({ tokenLifetimeSeconds: 60 }), { now: () => clock });
    const at = await issue();
    expect((await t.http.get("/scim/v2/Users").set("Authorization", `Bearer ${at}`)).status).toBe(200);
    clock = new Date(clock.getTime() + 60_000 + 61_000); // auth.clockSkewSeconds: 60 by default
    const res = await t.http.get("/scim/v2/Users").set("Authorization", `Bearer ${at}`);
    expect(res.status).toBe(401);
    expect(res.headers["www-authenticate"]).toMatch(/^Bearer/);
  });

  const sign = (key: string, claims: { exp?: number; aud?: string; iss?: string; sub?: string } = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ scope: "scim" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer(claims.iss ?? DEFAULT_ISSUER)
      .setAudience(claims.aud ?? SCIM_AUDIENCE)
      .setSubject(claims.sub ?? "pingfed")
      .setIssuedAt(now - 10)
      .setExpirationTime(claims.exp ?? now + 600)
      .sign(new TextEncoder().encode(key));
  };

  it.each([
    ["signed with our key (control)", () => sign(KEY), 200],
    ["expired longer ago than the clock skew allowance", () => sign(KEY, { exp: Math.floor(Date.now() / 1000) - 61 }), 401],
    ["signed with another key", () => sign("x".repeat(32)), 401],
    ["for another audience", () => sign(KEY, { aud: "something-else" }), 401],
    ["from another issuer", () => sign(KEY, { iss: "evil" }), 401],
    ["for a client no longer configured", () => sign(KEY, { sub: "removed" }), 401],
    ["unsigned (alg none, RFC 8725 §3.1)", async () => new UnsecuredJWT({ sub: "pingfed" }).setIssuer(DEFAULT_ISSUER).setAudience(SCIM_AUDIENCE).setExpirationTime("1h").encode(), 401],
  ])("a token %s: %i", async (_n, make, status) => {
    t = await testApp(oauthDoc());
    expect((await t.http.get("/scim/v2/Users").set("Authorization", `Bearer ${await make()}`)).status).toBe(status);
  });

  it("stored bearer tokens keep working alongside", async () => {
    t = await testApp(oauthDoc());
    expect((await t.http.get("/scim/v2/Users").set(t.auth)).status).toBe(200);
  });
});

describe("JWTs from an external issuer (auth.jwt)", () => {
  let server: Server;
  let jwksUrl: string;
  let privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
  let jwksRequests = 0;
  const ISSUER = "https://login.example.test/tenant/v2.0";
  const AUDIENCE = "api://scimbridge";

  beforeAll(async () => {
    const pair = await generateKeyPair("ES256");
    privateKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    server = createServer((req, res) => {
      jwksRequests++;
      if (req.url !== "/jwks.json") return void res.writeHead(404).end();
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const sign = (aud = AUDIENCE, extra: Record<string, unknown> = {}) =>
    new SignJWT({ azp: "entra-app", roles: ["scim.write"], ...extra })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setIssuer(ISSUER)
      .setAudience(aud)
      .setSubject("service-principal-oid")
      .setIssuedAt()
      .setExpirationTime("10m")
      .sign(privateKey);

  it("accepts a token signed by a key in the issuer's JWKS", async () => {
    t = await testApp({ auth: { jwt: { issuer: ISSUER, audience: AUDIENCE, jwksUrl } } });
    const res = await t.http.get("/scim/v2/Users").set("Authorization", `Bearer ${await sign()}`);
    expect(res.status).toBe(200);
    expect(jwksRequests).toBeGreaterThan(0);
  });

  it("rejects a wrong audience", async () => {
    t = await testApp({ auth: { jwt: { issuer: ISSUER, audience: AUDIENCE, jwksUrl } } });
    expect((await t.http.get("/scim/v2/Users").set("Authorization", `Bearer ${await sign("api://other")}`)).status).toBe(401);
  });

  it("rejects an HS256 token when only an external issuer is configured (no algorithm confusion)", async () => {
    t = await testApp({ auth: { jwt: { issuer: ISSUER, audience: AUDIENCE, jwksUrl } } });
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256", kid: "k1" })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject("x")
      .setExpirationTime("10m")
      .sign(new TextEncoder().encode("k".repeat(32)));
    expect((await t.http.get("/scim/v2/Users").set("Authorization", `Bearer ${forged}`)).status).toBe(401);
  });

  it("ignores external JWTs when auth.jwt is not configured", async () => {
    t = await testApp(oauthDoc());
    expect((await t.http.get("/scim/v2/Users").set("Authorization", `Bearer ${await sign()}`)).status).toBe(401);
  });
});

describe("oauth config and parsing", () => {
  const issues = (doc: unknown) => {
    try {
      parseConfig(doc, {});
      return "";
    } catch (e) {
      return (e as Error).message;
    }
  };

  it.each([
    [{ auth: { oauth: { clients: [{ clientId: "a", clientSecret: "long-enough-secret" }] } } }, "auth.oauth.signingKey: required when auth.oauth.clients are configured"],
    [{ auth: { oauth: { signingKey: "short" } } }, "auth.oauth.signingKey: at least 32 bytes"],
    [{ auth: { oauth: { signingKey: KEY, clients: [{ clientId: "a", clientSecret: "short" }] } } }, "auth.oauth.clients.0.clientSecret: at least 16 characters"],
    [{ auth: { oauth: { signingKey: KEY, clients: [{ clientId: "a", clientSecret: "long-enough-secret", scopes: ["a,b"] }] } } }, "auth.oauth.clients.0.scopes.0"],
    [{ auth: { jwt: { issuer: "i", audience: "a", jwksUrl: "http://idp.example.com/jwks" } } }, "auth.jwt.jwksUrl: an https URL"],
    [{ auth: { jwt: { issuer: "i", jwksUrl: "https://idp.example.com/jwks" } } }, "auth.jwt.audience"],
  ])("%j fails naming the key", (doc, expected) => {
    expect(issues(doc)).toContain(expected);
  });

  it("defaults: no clients, 3600 s, no jwt", () => {
    const c = parseConfig({}, {});
    expect(c.auth.oauth).toEqual({ clients: [], tokenLifetimeSeconds: 3600 });
    expect(c.auth.jwt).toBeUndefined();
  });

  it.each([
    ["scim", ["scim"]],
    ["scim  scim:read", ["scim", "scim:read"]],
    ["scim,scim:read", ["scim", "scim:read"]],
    [" , ", undefined],
    [undefined, undefined],
  ])("parseScope(%j)", (raw, expected) => {
    expect(parseScope(raw)).toEqual(expected);
  });

  it("parseBasic decodes form-urlencoding and keeps the raw reading", () => {
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    expect(parseBasic(b64("my%3Aid:a+b%25"))).toEqual({ clientId: "my:id", secrets: ["a b%", "a+b%25"] });
    expect(parseBasic(b64("id:plain"))).toEqual({ clientId: "id", secrets: ["plain"] });
    expect(parseBasic(b64("no-colon"))).toBeUndefined();
  });
});
