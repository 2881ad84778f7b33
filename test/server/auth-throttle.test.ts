/**
 * Failed authentication is throttled per caller: after auth.throttle.maxFailures failures within
 * windowSeconds the caller gets 429 with Retry-After (RFC 6585 §4), at /oauth/token, on the SCIM
 * API and on the admin API, while a correct credential from another caller is never refused.
 * Callers are told apart by address: the guesser connects from 127.0.0.2, the identity provider
 * from 127.0.0.1 (both loopback, real sockets). Each failure is logged with address, client id and
 * reason, never the secret.
 */
import { request } from "node:http";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../server/logger.js";
import { testApp, type TestApp } from "../helpers/app.js";
import { listenOnLoopback, type Listening } from "../helpers/listen.js";

const KEY = "k".repeat(32);
const SECRET = "entra-secret-0123456789";
const ADMIN = "admin-token-0123456789";
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

let t: TestApp;
let listening: Listening | undefined;
afterEach(async () => {
  await listening?.close(); // closing one already closed answers at once
  await t?.close();
});

/** `throttle`: auth.throttle, or undefined for the defaults (20 failures a minute). */
async function start(throttle: Record<string, unknown> | undefined, clock?: () => Date) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write: (chunk, _e, cb) => (lines.push(JSON.parse(String(chunk)) as Record<string, unknown>), cb()) });
  t = await testApp(
    {
      auth: {
        ...(throttle && { throttle }),
        oauth: { signingKey: KEY, clients: [{ clientId: "entra", clientSecret: SECRET }, { clientId: "pingfed", clientSecret: "pingfed-secret-0123456" }] },
      },
      admin: { tokens: [{ name: "ops", token: ADMIN }] },
    },
    { logger: createLogger("info", sink), ...(clock && { now: clock }) },
  );
  listening = await listenOnLoopback(t.app);
  return lines;
}

/** One request over a real socket from `from` (a loopback address). */
function send(from: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const { port } = listening!;
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, localAddress: from, method, path, headers: { ...headers, ...(body && { "content-length": String(Buffer.byteLength(body)) }) } }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}
const FORM = { "content-type": "application/x-www-form-urlencoded" };
const tokenRequest = (from: string, id: string, secret: string) => send(from, "POST", "/oauth/token", { ...FORM, authorization: basic(id, secret) }, "grant_type=client_credentials");

describe("throttled credential guessing", () => {
  it("/oauth/token: a guesser gets 429 with Retry-After after its budget (20 a minute by default); the real client's correct secret still works", async () => {
    const logs = await start(undefined);
    const statuses: number[] = [];
    for (let i = 0; i < 200; i++) statuses.push((await tokenRequest("127.0.0.2", "entra", `wrong-guess-${i}-xxxxxxxx`)).status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(20);
    expect(statuses.slice(20).every((s) => s === 429)).toBe(true);
    const throttled = await tokenRequest("127.0.0.2", "entra", SECRET);
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers["retry-after"])).toBeGreaterThan(0);
    expect(JSON.parse(throttled.body).error).toBe("temporarily_unavailable");

    // The identity provider, elsewhere, is never refused because someone else guessed wrong.
    expect((await tokenRequest("127.0.0.1", "entra", SECRET)).status).toBe(200);
    // Nor is another client from the guesser's own address.
    expect((await tokenRequest("127.0.0.2", "pingfed", "pingfed-secret-0123456")).status).toBe(200);

    const failures = logs.filter((l) => l.msg === "authentication failed" || l.msg === "authentication failed; caller throttled");
    expect(failures).toHaveLength(20);
    expect(failures[0]).toMatchObject({ level: 40, address: "127.0.0.2", clientId: "entra", endpoint: "/oauth/token", reason: "unknown client or wrong secret" });
    expect(JSON.stringify(logs)).not.toContain("wrong-guess");
  });

  it("the budget comes back once the window has passed", async () => {
    let now = new Date("2030-01-01T00:00:00Z");
    await start({ maxFailures: 5, windowSeconds: 60 }, () => now);
    for (let i = 0; i < 5; i++) await tokenRequest("127.0.0.2", "entra", "wrong-secret-xxxxxxxxxx");
    const refused = await tokenRequest("127.0.0.2", "entra", SECRET);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers["retry-after"])).toBe(60);
    now = new Date(now.getTime() + 61_000);
    expect((await tokenRequest("127.0.0.2", "entra", SECRET)).status).toBe(200);
  });

  it("SCIM bearer tokens: a guesser is throttled (429, SCIM error), the real client is not", async () => {
    const logs = await start(undefined);
    const statuses: number[] = [];
    for (let i = 0; i < 100; i++) statuses.push((await send("127.0.0.2", "GET", "/scim/v2/Users", { authorization: `Bearer scb_guess${i}` })).status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(20);
    const res = await send("127.0.0.2", "GET", "/scim/v2/Users", { authorization: `Bearer ${t.token}` });
    expect(res.status).toBe(429);
    expect(res.headers["retry-after"]).toBeDefined();
    expect(JSON.parse(res.body)).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "429" });
    expect((await send("127.0.0.1", "GET", "/scim/v2/Users", { authorization: `Bearer ${t.token}` })).status).toBe(200);
    expect(logs.find((l) => l.msg === "authentication failed")).toMatchObject({ address: "127.0.0.2", endpoint: "scim", reason: expect.any(String) });
    expect(JSON.stringify(logs)).not.toContain("scb_guess");
  });

  it("admin tokens: a guesser is throttled, the operator is not", async () => {
    const logs = await start(undefined);
    const statuses: number[] = [];
    for (let i = 0; i < 100; i++) statuses.push((await send("127.0.0.2", "GET", "/admin/api/status", { authorization: `Bearer not-the-admin-token-${i}` })).status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(20);
    expect(statuses.slice(20).every((s) => s === 429)).toBe(true);
    expect((await send("127.0.0.1", "GET", "/admin/api/status", { authorization: `Bearer ${ADMIN}` })).status).toBe(200);
    expect(logs.find((l) => l.msg === "authentication failed")).toMatchObject({ address: "127.0.0.2", endpoint: "/admin", reason: "invalid admin token" });
    expect(JSON.stringify(logs)).not.toContain("not-the-admin-token");
  });

  it("a request without credentials (a client's first try) spends no budget", async () => {
    await start({ maxFailures: 5, windowSeconds: 60 });
    for (let i = 0; i < 10; i++) expect((await send("127.0.0.2", "GET", "/scim/v2/Users", {})).status).toBe(401);
    expect((await send("127.0.0.2", "GET", "/scim/v2/Users", { authorization: `Bearer ${t.token}` })).status).toBe(200);
  });
});
