/**
 * The SCIM service tells its write listener (the delivery worker) of each write: a password inside
 * the write's transaction, before anything is committed, and the commit once the write is durable
 * (another connection reads it). The response body shows what the request committed, even when
 * another write lands in the turn the commit woke.
 */
import Database from "better-sqlite3";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { WriteListener } from "../../server/scim/service.js";
import { group, PATCH_OP, testApp, user, type TestApp } from "../helpers/app.js";

let t: TestApp;
let other: Database.Database;
let events: string[] = [];
/** Runs in the turn after a commit, as the worker's pump does. */
let nextTurn: (() => void) | undefined;

/** Whether another connection sees a user with this userName: the write is committed. */
const committedElsewhere = (userName: string) => other.prepare("SELECT 1 FROM users WHERE user_name = ?").get(userName) !== undefined;

/** The userName of the write under test, looked for from the other connection. */
let lastUserName = "";

beforeAll(async () => {
  const writes: WriteListener = {
    passwordSet: async (_id, password) => {
      events.push(`password ${password.length} (committed: ${committedElsewhere(lastUserName)})`);
    },
    committed: () => {
      events.push(`commit (committed: ${committedElsewhere(lastUserName)})`);
      setImmediate(() => nextTurn?.());
    },
  };
  t = await testApp({}, { writes });
  other = new Database(t.dbFile, { readonly: true });
});
afterAll(async () => {
  other.close();
  await t.close();
});
beforeEach(() => {
  events = [];
  nextTurn = undefined;
});

describe("the write listener", () => {
  it("gets a password inside the transaction and the commit after it, once per write", async () => {
    lastUserName = "order1";
    const created = await t.http.post("/scim/v2/Users").set(t.auth).send(user("order1", { password: "Secret-123" }));
    expect(created.status).toBe(201);
    expect(events).toEqual(["password 10 (committed: false)", "commit (committed: true)"]);
    events = [];
    const id = created.body.id as string;
    expect((await t.http.put(`/scim/v2/Users/${id}`).set(t.auth).send(user("order1", { title: "Engineer" }))).status).toBe(200);
    expect((await t.http.patch(`/scim/v2/Users/${id}`).set(t.auth).send({ schemas: [PATCH_OP], Operations: [{ op: "replace", path: "title", value: "Lead" }] })).status).toBe(200);
    expect((await t.http.delete(`/scim/v2/Users/${id}`).set(t.auth)).status).toBe(204);
    expect(events.filter((e) => e.startsWith("commit"))).toHaveLength(3);
  });

  it("a write that fails tells it nothing", async () => {
    expect((await t.http.post("/scim/v2/Users").set(t.auth).send(user("order2"))).status).toBe(201);
    events = [];
    expect((await t.http.post("/scim/v2/Users").set(t.auth).send(user("order2"))).status).toBe(409);
    expect(events).toEqual([]);
  });

  it("the body and ETag are what this request committed, even when another write lands in the turn its commit woke", async () => {
    const u = (await t.http.post("/scim/v2/Users").set(t.auth).send(user("order3"))).body;
    const g = (await t.http.post("/scim/v2/Groups").set(t.auth).send(group("ordered", [u.id]))).body;
    let interleaved: Promise<unknown> | undefined;
    nextTurn = () => {
      if (interleaved) return;
      // Another client's write, started right after this request's commit.
      interleaved = t.service.patch(
        "Group",
        g.id,
        { schemas: [PATCH_OP], Operations: [{ op: "replace", path: "displayName", value: "renamed" }, { op: "add", path: "members", value: [{ value: u.id }] }] },
        { baseUrl: "https://scim.example.test/scim/v2", client: "other" },
        undefined,
      );
    };
    // The representation is asked for (RFC 7240): a group PATCH answers 204 by default.
    const res = await t.http.patch(`/scim/v2/Groups/${g.id}`).set(t.auth).set("Prefer", "return=representation").send({ schemas: [PATCH_OP], Operations: [{ op: "remove", path: "members" }] });
    expect(res.status).toBe(200);
    expect(res.body.displayName).toBe("ordered");
    expect(res.body.members ?? []).toEqual([]);
    expect(res.headers.etag).toBe('"2"');
    await new Promise((r) => setImmediate(r));
    expect(interleaved).toBeDefined();
    await interleaved;
    const now = await t.http.get(`/scim/v2/Groups/${g.id}`).set(t.auth);
    expect(now.body.displayName).toBe("renamed");
    expect(now.headers.etag).toBe('"3"');
  });
});
