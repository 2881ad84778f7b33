/**
 * POST /Bulk (RFC 7644 §3.7) end to end: bulkId references (§3.7.2), circular references
 * (§3.7.1), failOnErrors (§3.7.3), limits (§3.7.4), per-operation If-Match via `version`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBulk } from "../../server/scim/bulk.js";
import { group, PATCH_OP, testApp, user, type TestApp } from "../helpers/app.js";

const BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
const BASE = "https://scim.example.test/scim/v2";

type Op = Record<string, unknown>;
interface OpResult {
  method: string;
  bulkId?: string;
  location?: string;
  version?: string;
  status: string;
  response?: { schemas: string[]; status: string; scimType?: string; detail: string };
}

let t: TestApp;
beforeAll(async () => {
  t = await testApp({ scim: { bulk: { maxOperations: 5, maxPayloadSize: 4096 } } });
});
afterAll(() => t.close());

const bulk = (Operations: Op[], extra: Record<string, unknown> = {}) =>
  t.http.post("/scim/v2/Bulk").set(t.auth).send({ schemas: [BULK_REQUEST], Operations, ...extra });
const ops = (body: { Operations: OpResult[] }) => body.Operations;
const changes = async () => (await t.sql.one<{ n: number }>("select count(*) n from changes"))!.n;
const idOf = (location: string | undefined) => location!.split("/").pop()!;
const memberIds = async (groupId: string) => {
  const res = await t.http.get(`/scim/v2/Groups/${groupId}`).set(t.auth);
  return ((res.body.members ?? []) as { value: string }[]).map((m) => m.value).sort();
};

describe("POST /Bulk", () => {
  it("creates users and a group whose members reference them by bulkId; one outbox row per operation", async () => {
    const before = await changes();
    const res = await bulk([
      { method: "POST", path: "/Users", bulkId: "u1", data: user("bulk.ann") },
      { method: "post", path: "/Users", bulkId: "u2", data: user("bulk.bob") },
      { method: "POST", path: "/Groups", bulkId: "g1", data: { ...group("Bulk Team"), members: [{ value: "bulkId:u1" }, { value: "bulkId:u2" }] } },
    ]);
    expect(res.status).toBe(200);
    expect(res.body.schemas).toEqual([BULK_RESPONSE]);
    const [u1, u2, g1] = ops(res.body);
    expect(u1).toMatchObject({ method: "POST", bulkId: "u1", status: "201", version: '"1"' });
    expect(u1!.location).toMatch(new RegExp(`^${BASE}/Users/`));
    expect(u2).toMatchObject({ method: "POST", bulkId: "u2", status: "201" });
    expect(g1).toMatchObject({ method: "POST", bulkId: "g1", status: "201" });
    expect(g1!.location).toMatch(new RegExp(`^${BASE}/Groups/`));
    expect(await memberIds(idOf(g1!.location))).toEqual([idOf(u1!.location), idOf(u2!.location)].sort());
    expect((await changes()) - before).toBe(3);
  });

  it("resolves a forward reference: the group comes before the users it names", async () => {
    const res = await bulk([
      { method: "POST", path: "/Groups", bulkId: "fg", data: { ...group("Forward"), members: [{ value: "bulkId:fu1" }, { value: "bulkId:fu2" }] } },
      { method: "POST", path: "/Users", bulkId: "fu1", data: user("fwd.one") },
      { method: "POST", path: "/Users", bulkId: "fu2", data: user("fwd.two") },
    ]);
    expect(res.status).toBe(200);
    const [g, u1, u2] = ops(res.body);
    expect([g!.status, u1!.status, u2!.status]).toEqual(["201", "201", "201"]);
    expect(g!.bulkId).toBe("fg");
    expect(await memberIds(idOf(g!.location))).toEqual([idOf(u1!.location), idOf(u2!.location)].sort());
  });

  it("bulkId references in `path` resolve too (PATCH a group created in the same request)", async () => {
    const res = await bulk([
      { method: "PATCH", path: "/Groups/bulkId:pg", data: { schemas: [PATCH_OP], Operations: [{ op: "add", path: "members", value: [{ value: "bulkId:pu" }] }] } },
      { method: "POST", path: "/Groups", bulkId: "pg", data: group("Patched Later") },
      { method: "POST", path: "/Users", bulkId: "pu", data: user("patched.member") },
    ]);
    const [p, g, u] = ops(res.body);
    expect(p).toMatchObject({ method: "PATCH", status: "200", location: g!.location, version: '"2"' });
    expect(await memberIds(idOf(g!.location))).toEqual([idOf(u!.location)]);
  });

  it("circular references fail with 409 in each operation on the cycle (§3.7.1); others still run", async () => {
    const before = await changes();
    const res = await bulk([
      { method: "POST", path: "/Groups", bulkId: "ca", data: { ...group("Cycle A"), members: [{ value: "bulkId:cb" }] } },
      { method: "POST", path: "/Groups", bulkId: "cb", data: { ...group("Cycle B"), members: [{ value: "bulkId:ca" }] } },
      { method: "POST", path: "/Groups", bulkId: "cc", data: { ...group("Needs A"), members: [{ value: "bulkId:ca" }] } },
      { method: "POST", path: "/Users", bulkId: "ok", data: user("cycle.bystander") },
    ]);
    const [a, b, c, ok] = ops(res.body);
    expect(a).toMatchObject({ bulkId: "ca", status: "409", response: { status: "409" } });
    expect(b).toMatchObject({ bulkId: "cb", status: "409" });
    expect(a!.location).toBeUndefined(); // §3.7: no location for a failed POST
    // A reference to an operation that failed cannot be resolved: 400 invalidValue.
    expect(c).toMatchObject({ status: "400", response: { scimType: "invalidValue" } });
    expect(ok!.status).toBe("201");
    expect((await changes()) - before).toBe(1);
  });

  it("a bulkId nobody defines fails that operation with 400 invalidValue", async () => {
    const res = await bulk([{ method: "POST", path: "/Groups", bulkId: "x", data: { ...group("Dangling"), members: [{ value: "bulkId:nope" }] } }]);
    expect(ops(res.body)[0]).toMatchObject({ status: "400", response: { scimType: "invalidValue", schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"] } });
    expect(ops(res.body)[0]!.response!.detail).toContain("bulkId:nope");
  });

  it("failOnErrors=1 stops after the first error (§3.7.3)", async () => {
    const before = await changes();
    const res = await bulk(
      [
        { method: "POST", path: "/Users", bulkId: "f1", data: user("foe.one") },
        { method: "POST", path: "/Users", bulkId: "f2", data: { schemas: user("x").schemas } }, // no userName
        { method: "POST", path: "/Users", bulkId: "f3", data: user("foe.three") },
      ],
      { failOnErrors: 1 },
    );
    expect(res.status).toBe(200);
    expect(ops(res.body).map((o) => [o.bulkId, o.status])).toEqual([["f1", "201"], ["f2", "400"]]);
    expect((await changes()) - before).toBe(1);
    expect((await t.http.get(`/scim/v2/Users?filter=${encodeURIComponent('userName eq "foe.three"')}`).set(t.auth)).body.totalResults).toBe(0);
  });

  it("PUT, PATCH and DELETE honour `version` as If-Match: a mismatch is 412 in that operation", async () => {
    const u = (await t.http.post("/scim/v2/Users").set(t.auth).send(user("versioned"))).body as { id: string };
    const path = `/Users/${u.id}`;
    const patch = { schemas: [PATCH_OP], Operations: [{ op: "replace", path: "title", value: "Lead" }] };
    const res = await bulk([
      { method: "PUT", path, version: '"9"', data: user("versioned", { title: "x" }) },
      { method: "PATCH", path, version: 'W/"9"', data: patch },
      { method: "DELETE", path, version: '"9"' },
      { method: "PATCH", path, version: '"1"', data: patch },
      { method: "DELETE", path, version: '"2"' },
    ]);
    const r = ops(res.body);
    expect(r.map((o) => o.status)).toEqual(["412", "412", "412", "200", "204"]);
    expect(r[0]).toMatchObject({ method: "PUT", location: `${BASE}/Users/${u.id}`, response: { status: "412" } });
    expect(r[3]).toMatchObject({ method: "PATCH", version: '"2"' });
    expect(r[4]).toMatchObject({ method: "DELETE", location: `${BASE}/Users/${u.id}` });
    expect((await t.http.get(`/scim/v2${path}`).set(t.auth)).status).toBe(404);
  });

  it("an unknown path, a bad method or a POST without bulkId fails that operation with 400", async () => {
    const res = await bulk([
      { method: "POST", path: "/Widgets", bulkId: "w", data: {} },
      { method: "GET", path: "/Users" },
      { method: "POST", path: "/Users", data: user("no.bulkid") },
      { method: "PUT", path: "/Users", data: user("no.id") },
    ]);
    expect(ops(res.body).map((o) => [o.status, o.response?.scimType])).toEqual([
      ["400", "invalidValue"],
      ["400", "invalidValue"],
      ["400", "invalidValue"],
      ["400", "invalidValue"],
    ]);
  });

  it("rejects a message that is not a BulkRequest with 400", async () => {
    const res = await t.http.post("/scim/v2/Bulk").set(t.auth).send({ schemas: ["urn:x"], Operations: [] });
    expect(res.status).toBe(400);
    expect(res.body.scimType).toBe("invalidSyntax");
  });

  it("more than maxOperations is 413 naming the limit (§3.7.4)", async () => {
    const many = Array.from({ length: 6 }, (_, i) => ({ method: "DELETE", path: `/Users/nobody-${i}` }));
    const res = await bulk(many);
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "413" });
    expect(res.body.detail).toContain("maxOperations (5)");
  });

  it("a payload over maxPayloadSize is 413 naming the limit (§3.7.4)", async () => {
    const res = await bulk([{ method: "POST", path: "/Users", bulkId: "big", data: user("big", { title: "x".repeat(5000) }) }]);
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ status: "413" });
    expect(res.body.detail).toContain("maxPayloadSize (4096)");
  });

  it("ServiceProviderConfig advertises the limits in force", async () => {
    const res = await t.http.get("/scim/v2/ServiceProviderConfig").set(t.auth);
    expect(res.body.bulk).toEqual({ supported: true, maxOperations: 5, maxPayloadSize: 4096 });
  });

  it("other methods on /Bulk are 405", async () => {
    expect((await t.http.get("/scim/v2/Bulk").set(t.auth)).status).toBe(405);
  });
});

describe("Bulk limits and switches", () => {
  it("advertises the smaller of maxPayloadSize and server.maxBodyBytes", async () => {
    const s = await testApp({ server: { maxBodyBytes: 2000 }, scim: { bulk: { maxPayloadSize: 1_048_576 } } });
    try {
      const spc = await s.http.get("/scim/v2/ServiceProviderConfig").set(s.auth);
      expect(spc.body.bulk).toEqual({ supported: true, maxOperations: 1000, maxPayloadSize: 2000 });
      const res = await s.http
        .post("/scim/v2/Bulk")
        .set(s.auth)
        .send({ schemas: [BULK_REQUEST], Operations: [{ method: "POST", path: "/Users", bulkId: "b", data: user("b", { title: "x".repeat(3000) }) }] });
      expect(res.status).toBe(413);
    } finally {
      await s.close();
    }
  });

  it("disabled: /Bulk is 501 and ServiceProviderConfig says unsupported", async () => {
    const d = await testApp({ scim: { bulk: { enabled: false } } });
    try {
      const res = await d.http.post("/scim/v2/Bulk").set(d.auth).send({ schemas: [BULK_REQUEST], Operations: [] });
      expect(res.status).toBe(501);
      expect(res.body.status).toBe("501");
      const spc = await d.http.get("/scim/v2/ServiceProviderConfig").set(d.auth);
      expect(spc.body.bulk).toMatchObject({ supported: false });
    } finally {
      await d.close();
    }
  });
});

describe("runBulk", () => {
  it("measures the parsed body when no Content-Length was sent (chunked)", async () => {
    const s = await testApp();
    try {
      const body = { schemas: [BULK_REQUEST], Operations: [{ method: "POST", path: "/Users", bulkId: "c", data: user("chunked") }] };
      await expect(runBulk(s.service, body, { baseUrl: BASE }, { maxOperations: 10, maxPayloadSize: 100 })).rejects.toThrow(/maxPayloadSize \(100\)/);
      expect((await runBulk(s.service, body, { baseUrl: BASE }, { maxOperations: 10, maxPayloadSize: 10_000 })).Operations[0]!.status).toBe("201");
    } finally {
      await s.close();
    }
  });
});
