/** The scope rules (server/auth/scopes.ts) as a table, and their config. */
import { describe, expect, it } from "vitest";
import { allows, needOf } from "../../server/auth/scopes.js";
import { parseConfig } from "../../server/config/load.js";

describe("scope rules and config", () => {
  it.each([
    ["GET", "/Users", {}, ["scim.read"], true],
    ["POST", "/.search", {}, ["scim.read"], true],
    ["POST", "/Groups/.search", {}, ["scim.read"], true],
    ["POST", "/Users", {}, ["scim.read"], false],
    ["PUT", "/Groups/1", {}, ["scim.users.write"], false],
    ["DELETE", "/Users/1", {}, ["scim.users.write"], true],
    ["PATCH", "/Groups/1", {}, ["scim.write"], true],
    ["POST", "/Users", {}, ["scim"], true],
    ["GET", "/Users", {}, ["openid"], false],
    ["POST", "/Bulk", { Operations: [{ method: "POST", path: "/Users" }, { method: "DELETE", path: "/Groups/1" }] }, ["scim.users.write"], false],
    ["POST", "/Bulk", { Operations: [{ method: "POST", path: "/Users" }] }, ["scim.users.write"], true],
  ])("%s %s %j with %j: %s", (method, path, body, scopes, allowed) => {
    expect(allows(new Set(scopes), needOf(method, path, body))).toBe(allowed);
  });

  it("an unknown scope on a Basic credential fails naming the key", () => {
    expect(() => parseConfig({ auth: { basic: [{ username: "a", password: "long-enough", scopes: ["scim.admin"] }] } }, {})).toThrow(/auth\.basic\.0\.scopes\.0/);
  });

  it("defaults: 60 s of clock skew, 24 h maximum lifetime, scope/scp/roles, no allow-list, 20 failures a minute, JWKS grace 24 h", () => {
    const c = parseConfig({ auth: { jwt: { issuer: "i", audience: "a", jwksUrl: "https://idp.example.com/keys" } } }, {});
    expect(c.auth.clockSkewSeconds).toBe(60);
    expect(c.auth.throttle).toEqual({ maxFailures: 20, windowSeconds: 60 });
    expect(c.auth.jwt?.jwks).toEqual({ cacheSeconds: 600, graceSeconds: 86_400, cooldownSeconds: 30, maxBackoffSeconds: 300, timeoutMs: 5000 });
    expect(c.auth.jwt).toMatchObject({ maxLifetimeSeconds: 86_400, scopeClaims: ["scope", "scp", "roles"], clientIds: [] });
  });
});
