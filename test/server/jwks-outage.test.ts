/**
 * The external issuer's JWKS (auth.jwt) through outages: the last good keys stay in use for
 * jwks.graceSeconds while refetches back off, /readyz and the admin API show the state, and
 * tokens with an unknown kid cannot make us refetch (or log) on every request: fetches are
 * single-flight with a cooldown, and failures are logged once per interval. A real JWKS server on
 * 127.0.0.1 that the test makes fail or stops; tokens signed with jose.
 */
import { Writable } from "node:stream";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createLogger } from "../../server/logger.js";
import { AUDIENCE, ISSUER, startIssuer, type Issuer } from "../helpers/jwks.js";
import { testApp, type TestApp } from "../helpers/app.js";

let t: TestApp;
let idp: Issuer;
afterEach(async () => {
  vi.useRealTimers();
  await t?.close();
  await idp?.close();
});

const ROLES = { roles: ["scim.write"] };
const WARNING = "cannot fetch the JWKS for auth.jwt";

/** `jwks`: auth.jwt.jwks, or undefined for the defaults (keys cached 10 min, 24 h of grace, 30 s cooldown). */
async function start(jwks: Record<string, unknown> | undefined, clock?: () => Date, auth: Record<string, unknown> = {}) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write: (chunk, _e, cb) => (lines.push(JSON.parse(String(chunk)) as Record<string, unknown>), cb()) });
  t = await testApp(
    { auth: { jwt: { issuer: ISSUER, audience: AUDIENCE, jwksUrl: idp.jwksUrl, ...(jwks && { jwks }) }, ...auth }, admin: { tokens: [{ name: "ops", token: "admin-token-0123456789" }] } },
    { logger: createLogger("info", sink), ...(clock && { now: clock }) },
  );
  return lines;
}
const get = async (token: string) => (await t.http.get("/scim/v2/Users").set("Authorization", `Bearer ${token}`)).status;

describe("JWKS outage", () => {
  it("keys stay usable from the last good fetch for the grace period while the JWKS is down; /readyz and the admin API say so", async () => {
    idp = await startIssuer();
    // Only Date is faked (and keeps ticking): jose, the server and the signer all see the jump.
    vi.useFakeTimers({ toFake: ["Date"], shouldAdvanceTime: true });
    const later = (ms: number) => vi.setSystemTime(Date.now() + ms);
    await start(undefined);
    expect(await get(await idp.sign(ROLES))).toBe(200);
    const healthy = (await t.http.get("/readyz")).body;

    await idp.stop(); // the issuer's JWKS endpoint is gone (connection refused)
    later(11 * 60_000); // past the 10-minute cache age
    expect(await get(await idp.sign(ROLES))).toBe(200);
    expect(healthy).toMatchObject({ status: "ready", jwks: { state: "ok", keys: 1, url: idp.jwksUrl } });
    const ready = await t.http.get("/readyz");
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: "degraded", jwks: { state: "stale", keys: 1, failures: 1, lastError: expect.any(String) } });
    const admin = await t.http.get("/admin/api/auth").set("Authorization", "Bearer admin-token-0123456789");
    expect(admin.body.jwks).toMatchObject({ state: "stale", url: idp.jwksUrl });

    // Refetches back off: a second request at once does not fetch again.
    expect(await get(await idp.sign(ROLES))).toBe(200);
    expect((await t.http.get("/readyz")).body.jwks.failures).toBe(1);

    later(24 * 3600_000); // past cache age + grace (24 h by default)
    expect(await get(await idp.sign(ROLES))).toBe(401);
    expect((await t.http.get("/readyz")).body).toMatchObject({ status: "degraded", jwks: { state: "unavailable" } });
  });

  it("the JWKS coming back ends the outage", async () => {
    idp = await startIssuer();
    let now = new Date();
    const at = () => Math.floor(now.getTime() / 1000);
    await start({ cacheSeconds: 60, graceSeconds: 600, cooldownSeconds: 5 }, () => now);
    expect(await get(await idp.sign(ROLES, { iat: at() }))).toBe(200);
    idp.mode = "fail";
    now = new Date(now.getTime() + 120_000);
    expect(await get(await idp.sign(ROLES, { iat: at() }))).toBe(200);
    expect((await t.http.get("/readyz")).body.jwks.state).toBe("stale");
    idp.mode = "ok";
    now = new Date(now.getTime() + 10_000); // past the backoff
    expect(await get(await idp.sign(ROLES, { iat: at() }))).toBe(200);
    expect((await t.http.get("/readyz")).body).toMatchObject({ status: "ready", jwks: { state: "ok", failures: 0, lastError: null } });
  });
});

describe("refetches are rate-limited", () => {
  it("300 tokens with an unknown kid or a foreign algorithm while the JWKS is failing: one fetch, one WARN line", async () => {
    idp = await startIssuer();
    idp.mode = "fail";
    const logs = await start(undefined);
    const tokens = [await idp.sign(ROLES, { kid: "unknown" }), await idp.sign(ROLES)];
    const statuses: number[] = [];
    for (let i = 0; i < 300; i++) statuses.push(await get(tokens[i % 2]!));
    expect(statuses.every((s) => s === 401)).toBe(true);
    expect(idp.requests).toBe(1);
    expect(logs.filter((l) => l.msg === WARNING)).toHaveLength(1);
  });

  it("with good keys cached, unknown kids refetch at most once per cooldown", async () => {
    idp = await startIssuer();
    let now = new Date();
    await start({ cooldownSeconds: 30 }, () => now, { throttle: { maxFailures: 1000, windowSeconds: 60 } }); // every request reaches the key lookup
    expect(await get(await idp.sign(ROLES))).toBe(200);
    const junk = await idp.sign(ROLES, { kid: "rotated-or-forged" });
    for (let i = 0; i < 100; i++) expect(await get(junk)).toBe(401);
    expect(idp.requests).toBe(1); // within the cooldown of the first fetch: none
    now = new Date(now.getTime() + 31_000);
    for (let i = 0; i < 300; i++) expect(await get(junk)).toBe(401);
    expect(idp.requests).toBe(2); // one refetch for the unknown kid, then the cooldown again
  });

  it("concurrent first requests share one fetch", async () => {
    idp = await startIssuer();
    await start(undefined);
    const token = await idp.sign(ROLES);
    const statuses = await Promise.all(Array.from({ length: 40 }, () => get(token)));
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(idp.requests).toBe(1);
  });
});
