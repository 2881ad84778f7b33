import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENTERPRISE, testApp, user, type TestApp } from "../helpers/app.js";

const ACME = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";
let t: TestApp;
beforeAll(async () => {
  t = await testApp({
    scim: {
      extensions: [
        { schema: ACME, name: "AcmeUser", attributes: [{ name: "badgeNumber", type: "string" }, { name: "clearance", type: "integer" }] },
      ],
    },
  });
});
afterAll(() => t.close());

const get = (path: string) => t.http.get(`/scim/v2${path}`).set(t.auth);

describe("discovery", () => {
  it("ServiceProviderConfig states what is supported, and only that", async () => {
    const res = await get("/ServiceProviderConfig");
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      patch: { supported: true },
      bulk: { supported: true, maxOperations: 1000, maxPayloadSize: 1_048_576 },
      filter: { supported: true, maxResults: 1000 },
      sort: { supported: true },
      etag: { supported: true },
      changePassword: { supported: false },
    });
    expect(res.body.authenticationSchemes.map((s: { type: string }) => s.type)).toEqual(["oauthbearertoken"]);
  });

  it("ResourceTypes lists User (with Enterprise and the custom extension) and Group", async () => {
    const res = await get("/ResourceTypes");
    const byName = Object.fromEntries(res.body.Resources.map((r: { name: string }) => [r.name, r]));
    expect(byName.User.endpoint).toBe("/Users");
    expect(byName.User.schemaExtensions.map((e: { schema: string }) => e.schema)).toEqual([ENTERPRISE, ACME]);
    expect(byName.Group.endpoint).toBe("/Groups");
  });

  it("Schemas lists every schema and serves one by id", async () => {
    const all = await get("/Schemas");
    expect(all.body.Resources.map((s: { id: string }) => s.id)).toEqual(expect.arrayContaining([ENTERPRISE, ACME]));
    const one = await get(`/Schemas/${ACME}`);
    expect(one.status).toBe(200);
    expect(one.body.attributes.map((a: { name: string }) => a.name)).toEqual(["badgeNumber", "clearance"]);
    expect((await get("/Schemas/urn:nope")).status).toBe(404);
  });

  it("custom extension attributes are stored, typed and returned", async () => {
    const ok = await t.http.post("/scim/v2/Users").set(t.auth).send(user("ext", { schemas: [user("x").schemas[0], ACME], [ACME]: { badgeNumber: "B-1", clearance: 3 } }));
    expect(ok.status).toBe(201);
    expect(ok.body[ACME]).toEqual({ badgeNumber: "B-1", clearance: 3 });
    expect(ok.body.schemas).toContain(ACME);
    const bad = await t.http.post("/scim/v2/Users").set(t.auth).send(user("ext2", { [ACME]: { clearance: "high" } }));
    expect(bad.status).toBe(400);
    expect(bad.body.scimType).toBe("invalidValue");
    const found = await get(`/Users?filter=${encodeURIComponent(`${ACME}:badgeNumber eq "b-1"`)}`);
    expect(found.body.totalResults).toBe(1);
  });

  it("/Me answers 501, unknown endpoints 404, both as SCIM errors", async () => {
    const me = await get("/Me");
    expect(me.status).toBe(501);
    expect(me.body).toMatchObject({ status: "501" });
    const none = await get("/Nope");
    expect(none.status).toBe(404);
    expect(none.body).toMatchObject({ status: "404" });
  });
});
