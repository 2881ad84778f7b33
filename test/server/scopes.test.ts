/**
 * Least privilege on the SCIM API: scopes of OAuth clients, Basic credentials and external JWTs
 * (RFC 6750 §3.1 insufficient_scope, answered as a SCIM 403, RFC 7644 §3.12), the external
 * issuer's calling-application allow-list, and bounds on JWT lifetime and clock skew (RFC 8725
 * §3.10). Real tokens: ours from /oauth/token, external ones signed with jose and checked against
 * a JWKS on 127.0.0.1.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AUDIENCE, ISSUER, startIssuer, type Issuer } from "../helpers/jwks.js";
import { GROUP_SCHEMA, testApp, user, type TestApp } from "../helpers/app.js";

const KEY = "k".repeat(32);
const clients = [
  { clientId: "reader", clientSecret: "reader-secret-0123456789", scopes: ["scim.read"] },
  { clientId: "users-only", clientSecret: "users-secret-0123456789", scopes: ["scim.users.write"] },
  { clientId: "writer", clientSecret: "writer-secret-0123456789", scopes: ["scim.read", "scim.write"] },
];
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

let t: TestApp;
afterEach(() => t?.close());

async function accessToken(clientId: string): Promise<string> {
  const c = clients.find((x) => x.clientId === clientId)!;
  const res = await t.http.post("/oauth/token").type("form").set("Authorization", basic(c.clientId, c.clientSecret)).send("grant_type=client_credentials");
  expect(res.status).toBe(200);
  return res.body.access_token as string;
}

describe("OAuth clients get what their scopes say", () => {
  it("a client configured with scopes [scim.read] reads, and cannot create or delete a user (403, SCIM error)", async () => {
    t = await testApp({ auth: { oauth: { signingKey: KEY, clients } } });
    const existing = await t.http.post("/scim/v2/Users").set(t.auth).send(user("existing"));
    const bearer = { Authorization: `Bearer ${await accessToken("reader")}` };
    expect((await t.http.get("/scim/v2/Users").set(bearer)).status).toBe(200);
    expect((await t.http.get(`/scim/v2/Users/${existing.body.id}`).set(bearer)).status).toBe(200);
    expect((await t.http.post("/scim/v2/Users/.search").set(bearer).send({ schemas: ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"] })).status).toBe(200);
    expect((await t.http.get("/scim/v2/ServiceProviderConfig").set(bearer)).status).toBe(200);

    const created = await t.http.post("/scim/v2/Users").set(bearer).send(user("mallory"));
    expect(created.status).toBe(403);
    expect(created.body).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "403" });
    expect(created.body.detail).toContain("scim.write");
    expect(created.headers["www-authenticate"]).toContain('error="insufficient_scope"');
    expect((await t.http.delete(`/scim/v2/Users/${existing.body.id}`).set(bearer)).status).toBe(403);
    expect((await t.http.patch(`/scim/v2/Users/${existing.body.id}`).set(bearer).send({})).status).toBe(403);
    expect((await t.http.get(`/scim/v2/Users/${existing.body.id}`).set(t.auth)).status).toBe(200); // still there
    expect((await t.http.get("/scim/v2/Users?filter=userName eq \"mallory\"").set(t.auth)).body.totalResults).toBe(0);
  });

  it("write scopes per resource type: scim.users.write writes users, not groups; Bulk needs every type it touches", async () => {
    t = await testApp({ auth: { oauth: { signingKey: KEY, clients } } });
    const bearer = { Authorization: `Bearer ${await accessToken("users-only")}` };
    expect((await t.http.post("/scim/v2/Users").set(bearer).send(user("alice"))).status).toBe(201);
    expect((await t.http.get("/scim/v2/Groups").set(bearer)).status).toBe(200);
    expect((await t.http.post("/scim/v2/Groups").set(bearer).send({ schemas: [GROUP_SCHEMA], displayName: "g" })).status).toBe(403);
    const bulk = (path: string) => ({
      schemas: ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
      Operations: [{ method: "POST", path, bulkId: "b1", data: path === "/Users" ? user("bob") : { schemas: [GROUP_SCHEMA], displayName: "h" } }],
    });
    expect((await t.http.post("/scim/v2/Bulk").set(bearer).send(bulk("/Users"))).status).toBe(200);
    expect((await t.http.post("/scim/v2/Bulk").set(bearer).send(bulk("/Groups"))).status).toBe(403);
    const writer = { Authorization: `Bearer ${await accessToken("writer")}` };
    expect((await t.http.post("/scim/v2/Groups").set(writer).send({ schemas: [GROUP_SCHEMA], displayName: "g" })).status).toBe(201);
  });

  it("a client whose scopes were narrowed in config keeps only what it still has (tokens issued before)", async () => {
    t = await testApp({ auth: { oauth: { signingKey: KEY, clients } } });
    const token = await accessToken("writer");
    await t.close();
    t = await testApp({ auth: { oauth: { signingKey: KEY, clients: clients.map((c) => (c.clientId === "writer" ? { ...c, scopes: ["scim.read"] } : c)) } } });
    const bearer = { Authorization: `Bearer ${token}` };
    expect((await t.http.get("/scim/v2/Users").set(bearer)).status).toBe(200);
    expect((await t.http.post("/scim/v2/Users").set(bearer).send(user("x"))).status).toBe(403);
  });

  it("Basic credentials may be limited to scim.read", async () => {
    t = await testApp({ auth: { basic: [{ username: "auditor", password: "correct horse battery", scopes: ["scim.read"] }] } });
    const h = { Authorization: basic("auditor", "correct horse battery") };
    expect((await t.http.get("/scim/v2/Users").set(h)).status).toBe(200);
    expect((await t.http.post("/scim/v2/Users").set(h).send(user("x"))).status).toBe(403);
  });

  it("stored tokens and default clients keep full access", async () => {
    t = await testApp({ auth: { oauth: { signingKey: KEY, clients: [{ clientId: "pingfed", clientSecret: "pingfed-secret-012345" }] } } });
    expect((await t.http.post("/scim/v2/Users").set(t.auth).send(user("a"))).status).toBe(201);
    const res = await t.http.post("/oauth/token").type("form").set("Authorization", basic("pingfed", "pingfed-secret-012345")).send("grant_type=client_credentials");
    expect((await t.http.post("/scim/v2/Users").set("Authorization", `Bearer ${res.body.access_token}`).send(user("b"))).status).toBe(201);
  });
});

describe("external JWTs: required scope or role, calling-application allow-list, lifetime", () => {
  let idp: Issuer;
  beforeAll(async () => (idp = await startIssuer()));
  afterAll(() => idp.close());
  const jwtDoc = (extra: Record<string, unknown> = {}) => ({ auth: { jwt: { issuer: ISSUER, audience: AUDIENCE, jwksUrl: idp.jwksUrl, ...extra } } });
  const get = async (token: string) => (await t.http.get("/scim/v2/Users").set("Authorization", `Bearer ${token}`)).status;
  const post = async (token: string) => (await t.http.post("/scim/v2/Users").set("Authorization", `Bearer ${token}`).send(user(`u${Math.random()}`))).status;

  it("a token with no scope or role claim at all is refused (403)", async () => {
    t = await testApp(jwtDoc());
    const res = await t.http.get("/scim/v2/Users").set("Authorization", `Bearer ${await idp.sign()}`);
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ status: "403", schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"] });
  });

  it.each([
    ["Entra app role (roles array)", { roles: ["scim.write"] }],
    ["Okta scp array", { scp: ["scim.write"] }],
    ["RFC 8693 scope string", { scope: "openid scim.write" }],
  ])("%s grants what it names", async (_n, claims) => {
    t = await testApp(jwtDoc());
    expect(await post(await idp.sign(claims))).toBe(201);
  });

  it("a read role reads and cannot write", async () => {
    t = await testApp(jwtDoc());
    const token = await idp.sign({ roles: ["scim.read"] });
    expect(await get(token)).toBe(200);
    expect(await post(token)).toBe(403);
  });

  it("scopeClaims is configurable: only the claims listed count", async () => {
    t = await testApp(jwtDoc({ scopeClaims: ["roles"] }));
    expect(await post(await idp.sign({ scp: "scim.write" }))).toBe(403);
    expect(await post(await idp.sign({ roles: ["scim.write"] }))).toBe(201);
  });

  it("clientIds: only the listed calling applications (azp, appid, client_id) get in", async () => {
    t = await testApp(jwtDoc({ clientIds: ["entra-provisioning"] }));
    expect(await get(await idp.sign({ azp: "some-other-app", roles: ["scim.write"] }))).toBe(401);
    expect(await get(await idp.sign({ azp: undefined, roles: ["scim.write"] }))).toBe(401);
    expect(await get(await idp.sign({ azp: "entra-provisioning", roles: ["scim.write"] }))).toBe(200);
    expect(await get(await idp.sign({ azp: undefined, appid: "entra-provisioning", roles: ["scim.write"] }))).toBe(200);
    expect(await get(await idp.sign({ azp: undefined, client_id: "entra-provisioning", roles: ["scim.write"] }))).toBe(200);
  });

  it("an iat a day in the future or an exp 100 years out is refused; within the skew allowance is fine", async () => {
    t = await testApp(jwtDoc());
    const now = Math.floor(Date.now() / 1000);
    const roles = { roles: ["scim.write"] };
    expect(await get(await idp.sign(roles, { iat: now + 86_400, exp: now + 90_000 }))).toBe(401);
    expect(await get(await idp.sign(roles, { iat: now, exp: now + 100 * 365 * 86_400 }))).toBe(401);
    expect(await get(await idp.sign(roles, { iat: now - 2 * 86_400, exp: now + 3600 }))).toBe(401); // older than maxLifetimeSeconds
    expect(await get(await idp.sign(roles, { iat: now + 30, exp: now + 3600 }))).toBe(200); // 30 s of clock skew
    expect(await get(await idp.sign(roles, { iat: now - 100, exp: now - 30 }))).toBe(200); // expired 30 s ago: within skew
  });

  it("maxLifetimeSeconds and clockSkewSeconds are configurable", async () => {
    t = await testApp({ auth: { ...jwtDoc({ maxLifetimeSeconds: 600 }).auth, clockSkewSeconds: 0 } });
    const now = Math.floor(Date.now() / 1000);
    const roles = { roles: ["scim.write"] };
    expect(await get(await idp.sign(roles, { iat: now, exp: now + 3600 }))).toBe(401);
    expect(await get(await idp.sign(roles, { iat: now, exp: now + 600 }))).toBe(200);
    expect(await get(await idp.sign(roles, { iat: now + 30, exp: now + 300 }))).toBe(401);
  });
});
