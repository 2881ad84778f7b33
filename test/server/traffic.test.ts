/**
 * Traffic inspector: the last N SCIM requests and responses, bodies redacted, read through the
 * admin API with admin credentials.
 */
import { afterEach, describe, expect, it } from "vitest";
import { PATCH_OP, testApp, user, type TestApp } from "../helpers/app.js";
import { REDACTED, redact } from "../../server/observability/traffic.js";

const ADMIN_TOKEN = "admin-token-0123456789abcdef";
const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };
let a: TestApp | undefined;
afterEach(() => a?.close());

const make = async (doc: Record<string, unknown> = {}) =>
  (a = await testApp({ admin: { tokens: [{ name: "ops", token: ADMIN_TOKEN }] }, auth: { basic: [{ username: "ping", password: "basic-secret-123" }] }, ...doc }));

type Rec = { requestId: string; client?: string; method: string; path: string; status: number; durationMs: number; requestBody: unknown; responseBody: unknown };
const traffic = async (t: TestApp, query = "") => {
  const res = await t.http.get(`/admin/api/traffic${query}`).set(admin);
  expect(res.status).toBe(200);
  return res.body as { enabled: boolean; records: Rec[] };
};

describe("traffic inspector", () => {
  it("records a POST with the password redacted, and the response", async () => {
    const t = await make();
    const res = await t.http.post("/scim/v2/Users").set(t.auth).set("X-Request-Id", "req-post-1").send(user("alice", { password: "Sup3r-Secret!" }));
    expect(res.status).toBe(201);
    const { records } = await traffic(t);
    expect(records).toHaveLength(1);
    const r = records[0]!;
    expect(r).toMatchObject({ requestId: "req-post-1", client: "test-client", method: "POST", path: "/scim/v2/Users", status: 201 });
    expect(typeof r.durationMs).toBe("number");
    expect(r.requestBody).toMatchObject({ userName: "alice", password: REDACTED });
    expect(r.responseBody).toMatchObject({ id: (res.body as { id: string }).id, userName: "alice" });
    expect(JSON.stringify(records)).not.toContain("Sup3r-Secret!");
    const one = await t.http.get("/admin/api/traffic/req-post-1").set(admin);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ requestId: "req-post-1", status: 201 });
    expect((await t.http.get("/admin/api/traffic/nope").set(admin)).status).toBe(404);
  });

  it("redacts PATCH password operations, by path and inside a value object", async () => {
    const t = await make();
    const { body } = await t.http.post("/scim/v2/Users").set(t.auth).send(user("bob"));
    const id = (body as { id: string }).id;
    const res = await t.http
      .patch(`/scim/v2/Users/${id}`)
      .set(t.auth)
      .send({
        schemas: [PATCH_OP],
        Operations: [
          { op: "replace", path: "password", value: "Path-Secret-1" },
          { op: "replace", path: "urn:ietf:params:scim:schemas:core:2.0:User:password", value: "Urn-Secret-2" },
          { op: "replace", value: { password: "Value-Secret-3", displayName: "Bobby" } },
        ],
      });
    expect(res.status).toBe(200);
    const [r] = (await traffic(t, "?limit=1")).records;
    expect(r!.method).toBe("PATCH");
    const text = JSON.stringify(r);
    for (const s of ["Path-Secret-1", "Urn-Secret-2", "Value-Secret-3"]) expect(text).not.toContain(s);
    expect(r!.requestBody).toMatchObject({
      Operations: [{ path: "password", value: REDACTED }, { value: REDACTED }, { value: { password: REDACTED, displayName: "Bobby" } }],
    });
  });

  it("never stores Authorization headers (Bearer or Basic), nor OAuth tokens", async () => {
    const t = await make();
    const basic = `Basic ${Buffer.from("ping:basic-secret-123").toString("base64")}`;
    expect((await t.http.get("/scim/v2/Users").set({ Authorization: basic })).status).toBe(200);
    expect((await t.http.get("/scim/v2/Users").set(t.auth)).status).toBe(200);
    expect((await t.http.get("/scim/v2/Users").set({ Authorization: "Bearer wrong-token-value" })).status).toBe(401);
    const { records } = await traffic(t);
    expect(records.map((r) => r.status)).toEqual([401, 200, 200]);
    expect(records[2]!.client).toBe("ping");
    const text = JSON.stringify(records);
    for (const s of [t.token, "basic-secret-123", Buffer.from("ping:basic-secret-123").toString("base64"), "wrong-token-value", "Authorization"]) expect(text).not.toContain(s);
    expect(redact({ client_secret: "x", access_token: "y", nested: [{ Password: "z" }] })).toEqual({ client_secret: REDACTED, access_token: REDACTED, nested: [{ Password: REDACTED }] });
  });

  it("keeps only the last `inspector.size` requests, newest first, filterable", async () => {
    const t = await make({ inspector: { size: 3 } });
    for (let i = 0; i < 5; i++) await t.http.get(`/scim/v2/Users?count=${i}`).set(t.auth);
    await t.http.get("/scim/v2/Users/missing").set(t.auth);
    const { records } = await traffic(t);
    expect(records.map((r) => r.path)).toEqual(["/scim/v2/Users/missing", "/scim/v2/Users?count=4", "/scim/v2/Users?count=3"]);
    expect((await traffic(t, "?status=404")).records.map((r) => r.status)).toEqual([404]);
    expect((await traffic(t, "?client=nobody")).records).toEqual([]);
    expect((await traffic(t, "?limit=2")).records).toHaveLength(2);
    expect((await t.http.get("/admin/api/traffic?limit=x").set(admin)).status).toBe(400);
  });

  it("records nothing when disabled", async () => {
    const t = await make({ inspector: { enabled: false } });
    expect(t.traffic).toBeUndefined();
    await t.http.post("/scim/v2/Users").set(t.auth).send(user("carol", { password: "Sup3r-Secret!" }));
    expect(await traffic(t)).toEqual({ enabled: false, records: [] });
  });

  it("is on by default and records SCIM traffic only", async () => {
    const t = await make();
    await t.http.get("/admin/api/status").set(admin);
    await t.http.get("/healthz");
    expect((await traffic(t)).records).toEqual([]);
  });

  it("requires admin credentials; a SCIM token is not one", async () => {
    const t = await make();
    for (const headers of [{}, t.auth, { Authorization: "Bearer not-the-admin-token" }]) {
      for (const path of ["/admin/api/traffic", "/admin/api/traffic/x", "/admin/api/audit"]) {
        const res = await t.http.get(path).set(headers);
        expect(res.status).toBe(401);
      }
    }
  });
});
