/**
 * Concurrent writes to one resource are serialized (each is one synchronous SQLite transaction):
 * no lost member updates (scimmy's PATCH loses one of two, scimmy-pitfalls.md), strictly
 * increasing versions, and If-Match lets exactly one of two racing writers win.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { group, PATCH_OP, testApp, user, type TestApp } from "../helpers/app.js";

let t: TestApp;
const users: string[] = [];
beforeAll(async () => {
  t = await testApp();
  for (let i = 0; i < 30; i++) users.push((await t.http.post("/scim/v2/Users").set(t.auth).send(user(`c${i}`))).body.id);
});
afterAll(() => t.close());

describe("concurrency", () => {
  it("concurrent member PATCHes on one group all survive", async () => {
    const g = (await t.http.post("/scim/v2/Groups").set(t.auth).send(group("Racers", [users[0]!]))).body;
    const patches = users.slice(1).map((id) =>
      t.http.patch(`/scim/v2/Groups/${g.id}`).set(t.auth).send({ schemas: [PATCH_OP], Operations: [{ op: "add", path: "members", value: [{ value: id }] }] }),
    );
    const results = await Promise.all(patches);
    expect(results.every((r) => r.status === 204)).toBe(true); // a group PATCH answers 204 by default
    const final = await t.http.get(`/scim/v2/Groups/${g.id}`).set(t.auth);
    expect(final.body.members.map((m: { value: string }) => m.value).sort()).toEqual([...users].sort());
    expect(final.body.meta.version).toBe(`"${users.length}"`); // one version per effective change
  });

  it("concurrent PUTs to one user are serialized: versions increase one by one", async () => {
    const id = users[0]!;
    const puts = Array.from({ length: 20 }, (_, i) => t.http.put(`/scim/v2/Users/${id}`).set(t.auth).send(user("c0", { title: `t${i}` })));
    const versions = (await Promise.all(puts)).map((r) => Number(JSON.parse(r.body.meta.version)));
    expect([...versions].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
  });

  it("If-Match: of two writers holding the same version, exactly one wins", async () => {
    const id = users[1]!;
    const { etag } = (await t.http.get(`/scim/v2/Users/${id}`).set(t.auth)).headers as { etag: string };
    const [a, b] = await Promise.all([
      t.http.put(`/scim/v2/Users/${id}`).set(t.auth).set("If-Match", etag).send(user("c1", { title: "from A" })),
      t.http.put(`/scim/v2/Users/${id}`).set(t.auth).set("If-Match", etag).send(user("c1", { title: "from B" })),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 412]);
    expect((a.status === 412 ? a : b).body).toMatchObject({ status: "412" });
  });
});

describe("no-op writes change nothing downstream", () => {
  it("a PATCH that asserts what is stored: same version, no outbox row; an empty Operations array is a no-op success", async () => {
    const created = (await t.http.post("/scim/v2/Users").set(t.auth).send(user("noop", { title: "Same" }))).body;
    const outbox = async () => (await t.sql.one<{ n: number }>("SELECT count(*) AS n FROM changes WHERE resource_id = ?", [created.id]))!.n;
    expect(await outbox()).toBe(1);
    const same = await t.http
      .patch(`/scim/v2/Users/${created.id}`)
      .set(t.auth)
      .send({ schemas: [PATCH_OP], Operations: [{ op: "Replace", path: "title", value: "Same" }, { op: "replace", value: { active: "True" } }] });
    expect(same.status).toBe(200);
    expect(same.body.meta.version).toBe('"1"');
    const empty = await t.http.patch(`/scim/v2/Users/${created.id}`).set(t.auth).send({ schemas: [PATCH_OP], Operations: [] });
    expect(empty.status).toBe(200);
    expect(empty.body.meta).toEqual(created.meta);
    expect(await outbox()).toBe(1);
  });
});
