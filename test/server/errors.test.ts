import { afterEach, describe, expect, it, vi } from "vitest";
import { ResourceQueries } from "../../db/resources.js";
import { testApp, user, type TestApp } from "../helpers/app.js";

let t: TestApp;
afterEach(async () => {
  vi.restoreAllMocks();
  await t?.close();
});

describe("internal failures are 500s, never 404s", () => {
  it("a database failure on read answers 500 with a generic detail and no stack", async () => {
    t = await testApp();
    const id = (await t.http.post("/scim/v2/Users").set(t.auth).send(user("x"))).body.id;
    // Fault injection: the query layer throws as a broken database would.
    vi.spyOn(ResourceQueries.prototype, "get").mockImplementation(() => {
      throw new Error("SQLITE_IOERR: disk I/O error at /secret/path");
    });
    const res = await t.http.get(`/scim/v2/Users/${id}`).set(t.auth);
    expect(res.status).toBe(500);
    expect(res.body).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "500" });
    expect(res.body.detail).toMatch(/^internal server error/);
    expect(JSON.stringify(res.body)).not.toMatch(/SQLITE|secret|at .*\.ts/);
  });

  it("a failure during a write answers 500 and leaves nothing half-written", async () => {
    t = await testApp();
    vi.spyOn(ResourceQueries.prototype, "recordChange").mockImplementation(() => {
      throw new TypeError("cannot read properties of undefined");
    });
    const res = await t.http.post("/scim/v2/Users").set(t.auth).send(user("atomic"));
    expect(res.status).toBe(500);
    expect((t.store.sqlite.prepare("select count(*) n from users").get() as { n: number }).n).toBe(0);
  });

  it("a closed database answers 500 on POST", async () => {
    t = await testApp();
    t.store.sqlite.close();
    const res = await t.http.post("/scim/v2/Users").set(t.auth).send(user("y"));
    expect(res.status).toBe(500);
  });
});
