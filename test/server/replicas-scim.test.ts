/**
 * Two replicas' SCIM services on one PostgreSQL (each its own app and connection pool, as two
 * processes behind a load balancer would be), written to at the same time:
 * - concurrent PATCHes of one user through both change different attributes, and both changes
 *   survive (the write locks the row it read: no lost update);
 * - a stale If-Match sent to the other replica is refused with 412 (RFC 7644 §3.14), the version
 *   living in the shared row;
 * - member PATCHes of one group alternating between the replicas all succeed, and the group holds
 *   exactly the members added;
 * - a token revoked through one replica is refused by the other on the next request.
 * A real PostgreSQL from the test harness; no directory (delivery is not under test here).
 */
import supertest from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgresStore } from "../../db/pg/open.js";
import type { Store } from "../../db/store.js";
import { createApp, type App } from "../../server/app.js";
import { parseConfig } from "../../server/config/load.js";
import { createLogger } from "../../server/logger.js";
import { usePostgres } from "../harness/postgres.js";
import { group, PATCH_OP, user } from "../helpers/app.js";

const pg = usePostgres();
const SECRET = Buffer.alloc(32, 7).toString("base64");
const replicas: { app: App; store: Store; http: ReturnType<typeof supertest> }[] = [];
let auth: { Authorization: string };

beforeAll(async () => {
  const config = parseConfig({ storage: { url: pg.url, pool: { max: 8 } }, provisioning: { secretKey: SECRET }, logging: { level: "silent" }, server: { publicUrl: "https://scim.example.test/scim/v2" } }, {});
  for (let i = 0; i < 2; i++) {
    const store = await openPostgresStore({ url: pg.url, pool: { max: 8 } });
    const app = createApp({ config, store, logger: createLogger("silent") });
    replicas.push({ app, store, http: supertest(app.app) });
  }
  // A token created through one replica authenticates on the other (one tokens table).
  auth = { Authorization: `Bearer ${await replicas[0]!.app.tokens.create("idp")}` };
}, 60_000);
afterAll(async () => {
  for (const r of replicas) await r.store.close();
});

const [A, B] = [0, 1] as const;
const http = (i: 0 | 1) => replicas[i]!.http;

describe("two replicas on one PostgreSQL", () => {
  it("100 pairs of concurrent PATCHes of one user through both replicas lose no update", async () => {
    const created = await http(A).post("/scim/v2/Users").set(auth).send(user("concurrent"));
    expect(created.status).toBe(201);
    const path = `/scim/v2/Users/${created.body.id as string}`;
    for (let i = 0; i < 100; i++) {
      const [a, b] = await Promise.all([
        http(A).patch(path).set(auth).send({ schemas: [PATCH_OP], Operations: [{ op: "replace", path: "displayName", value: `display ${i}` }] }),
        http(B).patch(path).set(auth).send({ schemas: [PATCH_OP], Operations: [{ op: "replace", path: "title", value: `title ${i}` }] }),
      ]);
      expect([a.status, b.status]).toEqual([200, 200]);
      const now = await http(i % 2 === 0 ? A : B).get(path).set(auth);
      expect({ displayName: now.body.displayName, title: now.body.title }).toEqual({ displayName: `display ${i}`, title: `title ${i}` });
    }
    const final = await http(B).get(path).set(auth);
    // Each PATCH made one version: 1 at creation + 200.
    expect(final.body.meta.version).toBe('"201"');
  });

  it("lists answer in PostgreSQL's SQL: filters with case folding, sorting, index and cursor paging", async () => {
    for (const name of ["Zoë", "ÅSA", "åke", "Ömer", "zed"]) expect((await http(A).post("/scim/v2/Users").set(auth).send(user(name, { title: "filtered" }))).status).toBe(201);
    const list = async (query: string) => (await http(B).get(`/scim/v2/Users?${query}`).set(auth)).body as { totalResults: number; Resources?: { userName: string }[]; nextCursor?: string };
    const names = (r: { Resources?: { userName: string }[] }) => (r.Resources ?? []).map((u) => u.userName);
    // caseExact=false (RFC 7643 §4.1.1): compared folded, non-ASCII included.
    expect(names(await list(`filter=${encodeURIComponent('userName eq "åsa"')}`))).toEqual(["ÅSA"]);
    expect(names(await list(`filter=${encodeURIComponent('userName sw "Z" and title eq "filtered"')}&sortBy=userName`))).toEqual(["zed", "Zoë"]);
    const sorted = await list(`filter=${encodeURIComponent('title eq "filtered"')}&sortBy=userName&sortOrder=descending&startIndex=2&count=2`);
    expect(sorted.totalResults).toBe(5);
    // Folded, byte-wise (C collation, as SQLite): ömer, åsa, åke, zoë, zed descending.
    expect(names(sorted)).toEqual(["ÅSA", "åke"]);
    const first = await list(`filter=${encodeURIComponent('title eq "filtered"')}&cursor&count=3`);
    const second = await list(`filter=${encodeURIComponent('title eq "filtered"')}&cursor=${encodeURIComponent(first.nextCursor!)}&count=3`);
    expect(new Set([...names(first), ...names(second)]).size).toBe(5);
  });

  it("a stale If-Match sent to the other replica is refused with 412 and changes nothing", async () => {
    const created = await http(A).post("/scim/v2/Users").set(auth).send(user("etag"));
    const path = `/scim/v2/Users/${created.body.id as string}`;
    const stale = created.headers.etag as string;
    expect((await http(A).patch(path).set(auth).send({ schemas: [PATCH_OP], Operations: [{ op: "replace", path: "title", value: "first" }] })).status).toBe(200);
    const refused = await http(B).patch(path).set(auth).set("If-Match", stale).send({ schemas: [PATCH_OP], Operations: [{ op: "replace", path: "title", value: "stale" }] });
    expect(refused.status).toBe(412);
    expect((await http(B).get(path).set(auth)).body.title).toBe("first");
  });

  it("member PATCHes of one group alternating between the replicas all succeed and keep every member", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push((await http(i % 2 === 0 ? A : B).post("/scim/v2/Users").set(auth).send(user(`member${i}`))).body.id as string);
    const g = await http(A).post("/scim/v2/Groups").set(auth).send(group("alternating"));
    const path = `/scim/v2/Groups/${g.body.id as string}`;
    const answers = await Promise.all(
      ids.map((id, i) => http(i % 2 === 0 ? A : B).patch(path).set(auth).send({ schemas: [PATCH_OP], Operations: [{ op: "add", path: "members", value: [{ value: id }] }] })),
    );
    // 204: a group PATCH answers without a body unless asked (server/scim/routes.ts).
    expect(answers.map((r) => r.status)).toEqual(ids.map(() => 204));
    const members = ((await http(B).get(path).set(auth)).body.members as { value: string }[]).map((m) => m.value);
    expect(members.sort()).toEqual([...ids].sort());
    expect((await http(A).get(path).set(auth)).body.meta.version).toBe(`"${ids.length + 1}"`);
  });

  it("a token revoked through one replica is refused by the other on its next request (tokens are read on every request, no cache)", async () => {
    const token = await replicas[A]!.app.tokens.create("short-lived");
    const bearer = { Authorization: `Bearer ${token}` };
    expect((await http(B).get("/scim/v2/Users?count=1").set(bearer)).status).toBe(200);
    expect(await replicas[A]!.app.tokens.revoke("short-lived")).toBe(true);
    const refused = await http(B).get("/scim/v2/Users?count=1").set(bearer);
    expect(refused.status).toBe(401);
    expect((await http(A).get("/scim/v2/Users?count=1").set(bearer)).status).toBe(401);
  });
});
