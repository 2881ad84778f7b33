import { afterEach, describe, expect, it, vi } from "vitest";
import type { StoreQueries } from "../../db/store.js";
import { testApp, user, type TestApp } from "../helpers/app.js";

let t: TestApp;
/** The class of the engine's resource queries (every transaction's share it), for fault injection. */
const resourceQueries = () => Object.getPrototypeOf(t.db.resources) as StoreQueries["resources"];
afterEach(async () => {
  vi.restoreAllMocks();
  await t?.close();
});

describe("internal failures are 500s, never 404s", () => {
  it("a database failure on read answers 500 with a generic detail and no stack", async () => {
    t = await testApp();
    const id = (await t.http.post("/scim/v2/Users").set(t.auth).send(user("x"))).body.id;
    // Fault injection: the query layer throws as a broken database would.
    vi.spyOn(resourceQueries(), "get").mockImplementation(() => {
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
    vi.spyOn(resourceQueries(), "recordChange").mockImplementation(() => {
      throw new TypeError("cannot read properties of undefined");
    });
    const res = await t.http.post("/scim/v2/Users").set(t.auth).send(user("atomic"));
    expect(res.status).toBe(500);
    expect(await t.sql.one("select count(*) n from users")).toEqual({ n: 0 });
  });

  it("a closed database answers 500 on POST", async () => {
    t = await testApp();
    // SQLite's connection closed under the app; on PostgreSQL its pool ended.
    if (t.engine === "sqlite") t.store.sqlite.close();
    else await t.db.close();
    const res = await t.http.post("/scim/v2/Users").set(t.auth).send(user("y"));
    expect(res.status).toBe(500);
  });
});
