import { afterEach, describe, expect, it } from "vitest";
import { openStore } from "../../db/open.js";
import { TokenService } from "../../server/auth/tokens.js";
import { secretKeyOf } from "../../server/secret-key.js";
import { testApp, type TestApp } from "../helpers/app.js";

let t: TestApp;
afterEach(() => t?.close());

describe("authentication", () => {
  it.each([
    ["no credentials", {}],
    ["a wrong token", { Authorization: "Bearer nope-nope-nope-nope" }],
    ["an unknown scheme", { Authorization: "Token abc" }],
  ])("%s: 401 with a SCIM error and WWW-Authenticate", async (_n, headers) => {
    t = await testApp();
    const res = await t.http.get("/scim/v2/Users").set(headers as Record<string, string>);
    expect(res.status).toBe(401);
    expect(res.headers["www-authenticate"]).toMatch(/^Bearer realm="scimbridge"/);
    expect(res.body).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "401" });
  });

  it("accepts the Bearer scheme word in any case", async () => {
    t = await testApp();
    for (const scheme of ["Bearer", "bearer", "BEARER"]) {
      expect((await t.http.get("/scim/v2/Users").set("Authorization", `${scheme} ${t.token}`)).status).toBe(200);
    }
  });

  it("accepts a configured alternate scheme word (PingFederate Authorization Header Type)", async () => {
    t = await testApp({ auth: { bearerSchemes: ["oauth2"] } });
    expect((await t.http.get("/scim/v2/Users").set("Authorization", `OAuth2 ${t.token}`)).status).toBe(200);
  });

  it("several named clients; a revoked token stops working", async () => {
    t = await testApp();
    const other = await t.tokens.create("okta");
    expect((await t.http.get("/scim/v2/Users").set("Authorization", `Bearer ${other}`)).status).toBe(200);
    expect((await t.tokens.list()).map((x) => x.name).sort()).toEqual(["okta", "test-client"]);
    await t.tokens.revoke("okta");
    expect((await t.http.get("/scim/v2/Users").set("Authorization", `Bearer ${other}`)).status).toBe(401);
    expect((await t.http.get("/scim/v2/Users").set(t.auth)).status).toBe(200);
  });

  it("a token created or revoked by another process (the CLI's connection) applies to the next request", async () => {
    t = await testApp();
    expect((await t.http.get("/scim/v2/Users").set(t.auth)).status).toBe(200); // hashes now cached
    const cli = openStore(t.dbFile);
    try {
      const created = await new TokenService(cli, secretKeyOf(t.config)).create("from-cli");
      expect((await t.http.get("/scim/v2/Users").set("Authorization", `Bearer ${created}`)).status).toBe(200);
      await new TokenService(cli, secretKeyOf(t.config)).revoke("test-client");
      expect((await t.http.get("/scim/v2/Users").set(t.auth)).status).toBe(401);
      await new TokenService(cli, secretKeyOf(t.config)).revoke("from-cli");
      expect((await t.http.get("/scim/v2/Users").set("Authorization", `Bearer ${created}`)).status).toBe(401);
    } finally {
      await cli.close();
    }
  });

  it("stores tokens hashed, never in clear", async () => {
    t = await testApp();
    const rows = t.store.sqlite.prepare("select * from tokens").all();
    expect(JSON.stringify(rows)).not.toContain(t.token);
  });

  it("HTTP Basic credentials from config", async () => {
    t = await testApp({ auth: { basic: [{ username: "pingfed", password: "correct horse battery" }] } });
    const good = Buffer.from("pingfed:correct horse battery").toString("base64");
    const bad = Buffer.from("pingfed:wrong password").toString("base64");
    expect((await t.http.get("/scim/v2/Users").set("Authorization", `Basic ${good}`)).status).toBe(200);
    const res = await t.http.get("/scim/v2/Users").set("Authorization", `Basic ${bad}`);
    expect(res.status).toBe(401);
    expect(res.headers["www-authenticate"]).toContain("Basic");
  });

  it("discovery endpoints need credentials unless config opens them", async () => {
    t = await testApp();
    expect((await t.http.get("/scim/v2/ServiceProviderConfig")).status).toBe(401);
    await t.close();
    t = await testApp({ auth: { openDiscovery: true } });
    expect((await t.http.get("/scim/v2/ServiceProviderConfig")).status).toBe(200);
    expect((await t.http.get("/scim/v2/Schemas")).status).toBe(200);
    expect((await t.http.get("/scim/v2/Users")).status).toBe(401);
  });
});
