/**
 * A database kept busy by another connection past busy_timeout answers SCIM writes with 503,
 * Retry-After and a SCIM Error body (RFC 7644 §3.12), never a 500; nothing is half-written and
 * the same request succeeds once the other writer is done. The fault is real: a second
 * better-sqlite3 connection on the same file holds BEGIN IMMEDIATE.
 */
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { PATCH_OP, testApp, user, type TestApp } from "../helpers/app.js";

const ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error";
/** Short, so each refused write takes a tenth of a second instead of db/open.ts's 5 s. */
const TEST_BUSY_TIMEOUT_MS = 100;

let t: TestApp | undefined;
let other: Database.Database | undefined;
afterEach(async () => {
  if (other?.inTransaction) other.exec("ROLLBACK");
  other?.close();
  other = undefined;
  await t?.close();
  t = undefined;
});

/** The app, and a second connection holding the write lock on its file. */
async function busyApp(): Promise<{ app: TestApp; release: () => void }> {
  const app = (t = await testApp());
  app.store.sqlite.pragma(`busy_timeout = ${TEST_BUSY_TIMEOUT_MS}`);
  const holder = (other = new Database(app.dbFile));
  return {
    app,
    release: () => holder.exec("ROLLBACK"),
  };
}

const count = (app: TestApp) => (app.store.sqlite.prepare("SELECT count(*) AS n FROM users").get() as { n: number }).n;

describe("a busy database", () => {
  it("POST answers 503 with Retry-After and a SCIM error; the retry after the lock is gone is 201", async () => {
    const { app, release } = await busyApp();
    other!.exec("BEGIN IMMEDIATE");
    const res = await app.http.post("/scim/v2/Users").set(app.auth).send(user("busy"));
    expect(res.status).toBe(503);
    expect(res.headers["retry-after"]).toMatch(/^\d+$/);
    expect(res.headers["content-type"]).toMatch(/^application\/scim\+json/);
    expect(res.body).toMatchObject({ schemas: [ERROR_SCHEMA], status: "503", detail: expect.stringMatching(/busy/) });
    expect(JSON.stringify(res.body)).not.toMatch(/SQLITE/);
    expect(count(app)).toBe(0);

    release();
    expect((await app.http.post("/scim/v2/Users").set(app.auth).send(user("busy"))).status).toBe(201);
    expect(count(app)).toBe(1);
  });

  it("PATCH and DELETE answer 503 too, while reads go on (WAL readers do not wait for writers)", async () => {
    const { app } = await busyApp();
    const id = ((await app.http.post("/scim/v2/Users").set(app.auth).send(user("patched"))).body as { id: string }).id;
    const fresh = await app.tokens.create("second-client");
    other!.exec("BEGIN IMMEDIATE");
    const patch = await app.http
      .patch(`/scim/v2/Users/${id}`)
      .set(app.auth)
      .send({ schemas: [PATCH_OP], Operations: [{ op: "replace", path: "active", value: false }] });
    expect(patch.status).toBe(503);
    expect(patch.headers["retry-after"]).toBeDefined();
    expect(patch.body).toMatchObject({ schemas: [ERROR_SCHEMA], status: "503" });
    const del = await app.http.delete(`/scim/v2/Users/${id}`).set(app.auth);
    expect(del.status).toBe(503);
    const read = await app.http.get(`/scim/v2/Users/${id}`).set(app.auth);
    expect(read.status).toBe(200);
    expect(read.body.active).toBe(true);
    // A token's first use writes its last-use time; a busy database skips that, not the request.
    const first = await app.http.get(`/scim/v2/Users/${id}`).set({ Authorization: `Bearer ${fresh}` });
    expect(first.status).toBe(200);
  });

  it("a bulk operation that meets a busy database is that operation's 503 (RFC 7644 §3.7.3)", async () => {
    const { app } = await busyApp();
    other!.exec("BEGIN IMMEDIATE");
    const res = await app.http
      .post("/scim/v2/Bulk")
      .set(app.auth)
      .send({
        schemas: ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        Operations: [{ method: "POST", path: "/Users", bulkId: "b1", data: user("bulky") }],
      });
    expect(res.status).toBe(200);
    const [op] = res.body.Operations as { status: string; response: Record<string, unknown> }[];
    expect(op).toMatchObject({ status: "503", response: { schemas: [ERROR_SCHEMA], status: "503" } });
  });

  it("other internal failures stay 500", async () => {
    const { app } = await busyApp();
    app.store.sqlite.close();
    const res = await app.http.post("/scim/v2/Users").set(app.auth).send(user("closed"));
    expect(res.status).toBe(500);
    expect(res.headers["retry-after"]).toBeUndefined();
  });
});
