import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ENTERPRISE, testApp, user, USER_SCHEMA, type TestApp } from "../helpers/app.js";

let t: TestApp;
beforeEach(async () => {
  t = await testApp();
});
afterEach(() => t.close());

const post = (body: unknown) => t.http.post("/scim/v2/Users").set(t.auth).set("Content-Type", "application/scim+json").send(JSON.stringify(body));

describe("POST /Users", () => {
  it("creates a user: 201, Location equal to meta.location, full resource, scim+json", async () => {
    const res = await post(user("alice", { displayName: "Alice A", [ENTERPRISE]: { employeeNumber: "42", manager: { value: "m-1" } } }));
    expect(res.status).toBe(201);
    expect(res.headers["content-type"]).toMatch(/^application\/scim\+json/);
    expect(res.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.location).toBe(res.body.meta.location);
    expect(res.body.meta).toMatchObject({ resourceType: "User", version: '"1"' });
    expect(res.headers.etag).toBe('"1"');
    expect(res.body.meta.created).toBe(res.body.meta.lastModified);
    expect(res.body.schemas).toEqual([USER_SCHEMA, ENTERPRISE]);
    expect(res.body).toMatchObject({ userName: "alice", displayName: "Alice A", active: true, name: { givenName: "Given" } });
    expect(res.body[ENTERPRISE]).toMatchObject({ employeeNumber: "42", manager: { value: "m-1" } });
    expect(res.body.emails).toEqual([{ value: "alice@example.com", type: "work", primary: true }]);
  });

  it("accepts a password and never returns it", async () => {
    const res = await post(user("pw", { password: "S3cret!pass" }));
    expect(res.status).toBe(201);
    expect(JSON.stringify(res.body)).not.toContain("S3cret");
    const got = await t.http.get(`/scim/v2/Users/${res.body.id}`).set(t.auth).query({ attributes: "password,userName" });
    expect(got.body.password).toBeUndefined();
    // The stored row (JSON text on SQLite, jsonb on PostgreSQL) as text.
    expect(JSON.stringify(await t.sql.rows("select data from users"))).not.toContain("S3cret");
  });

  it.each([["alice"], ["ALICE"], ["Alice"]])("rejects a duplicate userName in any case (%s): 409 uniqueness", async (dup) => {
    expect((await post(user("alice"))).status).toBe(201);
    const res = await post(user(dup));
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "409", scimType: "uniqueness" });
  });

  it("malformed JSON: 400 invalidSyntax", async () => {
    const res = await t.http.post("/scim/v2/Users").set(t.auth).set("Content-Type", "application/scim+json").send('{"userName": ');
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ status: "400", scimType: "invalidSyntax" });
  });

  it.each([
    ["missing userName", { schemas: [USER_SCHEMA], name: { givenName: "x" } }],
    ["userName of the wrong type", { schemas: [USER_SCHEMA], userName: 12 }],
    ["active of the wrong type", { schemas: [USER_SCHEMA], userName: "x", active: "maybe" }],
    ["emails not complex", { schemas: [USER_SCHEMA], userName: "x", emails: [3] }],
  ])("%s: 400 invalidValue", async (_name, body) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ status: "400", scimType: "invalidValue" });
    expect(typeof res.body.detail).toBe("string");
  });

  it("body over the limit: 413 with a SCIM error, nothing stored", async () => {
    const big = user("big", { displayName: "x".repeat(1_100_000) });
    const res = await post(big);
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ status: "413" });
    expect(await t.sql.one("select count(*) n from users")).toEqual({ n: 0 });
  });

  it("accepts application/json and answers application/json when that is all the client accepts", async () => {
    const res = await t.http.post("/scim/v2/Users").set(t.auth).set("Content-Type", "application/json; charset=utf-8").set("Accept", "application/json").send(JSON.stringify(user("pf")));
    expect(res.status).toBe(201);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
  });
});

describe("GET, PUT, DELETE /Users/{id}", () => {
  it("reads, replaces and deletes", async () => {
    const created = (await post(user("bob", { title: "Eng" }))).body;
    const got = await t.http.get(`/scim/v2/Users/${created.id}`).set(t.auth);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(created);

    const put = await t.http.put(`/scim/v2/Users/${created.id}`).set(t.auth).send(user("bob", { displayName: "Bobby" }));
    expect(put.status).toBe(200);
    expect(put.body.displayName).toBe("Bobby");
    expect(put.body.title).toBeUndefined(); // PUT replaces: attributes not sent are cleared
    expect(put.body.meta.version).toBe('"2"');
    expect(put.body.meta.created).toBe(created.meta.created);

    const del = await t.http.delete(`/scim/v2/Users/${created.id}`).set(t.auth);
    expect(del.status).toBe(204);
    expect((await t.http.get(`/scim/v2/Users/${created.id}`).set(t.auth)).status).toBe(404);
  });

  it("an identical PUT changes nothing: same version, no outbox row", async () => {
    const created = (await post(user("same"))).body;
    const put = await t.http.put(`/scim/v2/Users/${created.id}`).set(t.auth).send(user("same"));
    expect(put.status).toBe(200);
    expect(put.body.meta.version).toBe('"1"');
    expect(await t.sql.one("select count(*) n from changes")).toEqual({ n: 1 });
  });

  it("every write commits an outbox row in the same transaction", async () => {
    const created = (await post(user("out"))).body;
    await t.http.put(`/scim/v2/Users/${created.id}`).set(t.auth).send(user("out", { title: "x" }));
    await t.http.delete(`/scim/v2/Users/${created.id}`).set(t.auth);
    const rows = await t.sql.rows("select op, version, resource_id from changes order by seq");
    expect(rows).toEqual([
      { op: "create", version: 1, resource_id: created.id },
      { op: "update", version: 2, resource_id: created.id },
      { op: "delete", version: 3, resource_id: created.id },
    ]);
  });

  it.each(["get", "put", "patch", "delete"] as const)("unknown id on %s: 404 with a SCIM error", async (method) => {
    const req = t.http[method]("/scim/v2/Users/00000000-0000-0000-0000-000000000000").set(t.auth);
    const res = method === "put" ? await req.send(user("x")) : method === "patch" ? await req.send({ schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: [] }) : await req;
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ status: "404", schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"] });
  });

  it("PUT to a userName another user holds (any case): 409", async () => {
    await post(user("carol"));
    const dave = (await post(user("dave"))).body;
    const res = await t.http.put(`/scim/v2/Users/${dave.id}`).set(t.auth).send(user("CAROL"));
    expect(res.status).toBe(409);
    expect(res.body.scimType).toBe("uniqueness");
  });

  it("PATCH replaces an attribute and returns 200 with the resource", async () => {
    const created = (await post(user("pat"))).body;
    const res = await t.http
      .patch(`/scim/v2/Users/${created.id}`)
      .set(t.auth)
      .send({ schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: [{ op: "replace", path: "title", value: "Boss" }] });
    expect(res.status).toBe(200);
    expect(res.body.title).toBe("Boss");
    expect(res.body.meta.version).toBe('"2"');
  });

  it("ETag: If-Match mismatch is 412, If-None-Match current is 304", async () => {
    const created = (await post(user("etag"))).body;
    const stale = await t.http.put(`/scim/v2/Users/${created.id}`).set(t.auth).set("If-Match", '"7"').send(user("etag", { title: "t" }));
    expect(stale.status).toBe(412);
    const ok = await t.http.put(`/scim/v2/Users/${created.id}`).set(t.auth).set("If-Match", '"1"').send(user("etag", { title: "t" }));
    expect(ok.status).toBe(200);
    const notModified = await t.http.get(`/scim/v2/Users/${created.id}`).set(t.auth).set("If-None-Match", '"2"');
    expect(notModified.status).toBe(304);
  });

  it("normalises double and trailing slashes", async () => {
    const created = (await post(user("slash"))).body;
    expect((await t.http.get(`/scim/v2//Users/${created.id}/`).set(t.auth)).status).toBe(200);
    expect((await t.http.get(`/scim/v2/Users/`).set(t.auth)).status).toBe(200);
  });
});
