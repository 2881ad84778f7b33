/**
 * The admin API (issue 6) against the real chain: SCIM app, delivery worker, a real slapd. The
 * failure is slapd's own: uidNumber is not allowed by inetOrgPerson (65 objectClassViolation).
 */
import supertest from "supertest";
import type { PublicRow } from "../../server/admin/status.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../db/open.js";
import { createApp } from "../../server/app.js";
import { parseConfig } from "../../server/config/load.js";
import { createLogger } from "../../server/logger.js";
import { user } from "../helpers/app.js";
import { provisioned, type Provisioned } from "../helpers/provisioned.js";
import { useSlapd } from "../harness/slapd.js";

const ldap = useSlapd();
const ADMIN_TOKEN = "admin-token-0123456789abcdef";
const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };
const PEOPLE = "ou=people,dc=example,dc=com";
let p: Provisioned;
const ids = { alice: "", bob: "", carol: "" };

/** What the API returns per rule: the shared public row plus the planned operations. */
type Row = PublicRow & {
  planned: { event: string; dn?: string; ops: { kind: string; dn: string; attributes?: Record<string, string[]> }[] } | null;
};
const row = (id: string, rule: string) =>
  p.sql.one<{ state: string; attempts: number; next_attempt: string | null; last_attempt: string | null; last_code: number | null; wanted_seq: number }>(
    "SELECT state, attempts, next_attempt, last_attempt, last_code, wanted_seq FROM sync_state WHERE resource_id = ? AND rule = ?",
    [id, rule],
  );

beforeAll(async () => {
  p = await provisioned(ldap, {
    userRules: [
      { name: "people", target: "slapd", dn: `uid={userName},${PEOPLE}` },
      // uidNumber belongs to posixAccount, not inetOrgPerson: users with a nickName fail here.
      { name: "broken", target: "slapd", dn: "uid={userName},ou=groups,dc=example,dc=com", attributes: { uidNumber: "nickName" } },
    ],
    provisioning: { maxAttempts: 2 },
    admin: { tokens: [{ name: "ops", token: ADMIN_TOKEN }] },
  });
  for (const [name, extra] of [
    ["alice", {}],
    ["bob", { nickName: "1000", password: "Sup3r-secret!" }],
    ["carol", { nickName: "1001" }],
  ] as const) {
    const res = await p.http.post("/scim/v2/Users").set(p.auth).send(user(name, extra));
    expect(res.status).toBe(201);
    ids[name] = (res.body as { id: string }).id;
  }
  await p.settle();
});
afterAll(async () => p?.close());

describe("admin API: authentication", () => {
  it("401 JSON without a token, with a wrong one, and with a SCIM client's token", async () => {
    for (const headers of [{}, { Authorization: "Bearer wrong-token-0123456789" }, p.auth, { Authorization: `Basic ${Buffer.from(`ops:${ADMIN_TOKEN}`).toString("base64")}` }]) {
      const res = await p.http.get("/admin/api/status").set(headers);
      expect(res.status).toBe(401);
      expect(res.headers["content-type"]).toMatch(/^application\/json/);
      expect(res.headers["www-authenticate"]).toContain('realm="scimbridge-admin"');
      expect(res.body).toMatchObject({ error: { status: 401, detail: expect.any(String) } });
    }
  });

  it("the admin token is not a SCIM credential either", async () => {
    expect((await p.http.get("/scim/v2/Users").set(admin)).status).toBe(401);
  });

  it("with no admin tokens configured the admin API does not exist (404)", async () => {
    const config = parseConfig({ storage: { file: ":memory:" }, logging: { level: "silent" } }, {});
    const store = openStore(":memory:");
    try {
      const { app } = createApp({ config, store, logger: createLogger("silent") });
      for (const headers of [{}, admin]) expect((await supertest(app).get("/admin/api/status").set(headers)).status).toBe(404);
    } finally {
      await store.close();
    }
  });
});

describe("GET /admin/api/status", () => {
  it("counts by state per target, with the rules of each target", async () => {
    const res = await p.http.get("/admin/api/status").set(admin);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      targets: [
        {
          name: "slapd",
          counts: { in_sync: 4, pending: 0, retrying: 0, failed: 2, out_of_scope: 0, needs_password: 0 },
          rules: [
            { name: "people", configured: true, counts: { in_sync: 3, pending: 0, retrying: 0, failed: 0, out_of_scope: 0, needs_password: 0 } },
            { name: "broken", configured: true, counts: { in_sync: 1, pending: 0, retrying: 0, failed: 2, out_of_scope: 0, needs_password: 0 } },
          ],
        },
      ],
    });
  });
});

describe("GET /admin/api/resources/:type/:id", () => {
  it("per rule: state, DN, directory id, attempts, LDAP code and message; planned ops where a change waits", async () => {
    const res = await p.http.get(`/admin/api/resources/User/${ids.bob}`).set(admin);
    expect(res.status).toBe(200);
    const body = res.body as { type: string; id: string; exists: boolean; rules: Row[] };
    expect(body).toMatchObject({ type: "User", id: ids.bob, exists: true });
    const people = body.rules.find((r) => r.rule === "people")!;
    const entry = await ldap.search(`uid=bob,${PEOPLE}`, ["entryUUID"]);
    expect(people).toMatchObject({ target: "slapd", state: "in_sync", dn: `uid=bob,${PEOPLE}`, directoryId: entry!.entryuuid![0], attempts: 0, lastCode: null, lastError: null, planned: null, passwordPending: false, leasedUntil: null });
    expect(people.lastAttempt).toEqual(expect.any(String));

    const broken = body.rules.find((r) => r.rule === "broken")!;
    expect(broken).toMatchObject({ state: "failed", attempts: 2, lastCode: 65, dn: null, passwordPending: true });
    expect(broken.lastError).toMatch(/uidNumber|object class/i);
    expect(broken.planned).toMatchObject({ event: "upsert", dn: "uid=bob,ou=groups,dc=example,dc=com" });
    const add = broken.planned!.ops.find((o) => o.kind === "add")!;
    expect(add.attributes).toMatchObject({ uidNumber: ["1000"] });
    // The pending password is reported, never shown.
    expect(JSON.stringify(res.body)).not.toContain("Sup3r-secret!");
    expect(JSON.stringify(res.body)).not.toMatch(/"secret"|"written"/);
  });

  it("plural and lower-case type names work; unknown resources and types are 404 JSON", async () => {
    expect((await p.http.get(`/admin/api/resources/users/${ids.alice}`).set(admin)).status).toBe(200);
    const missing = await p.http.get("/admin/api/resources/User/no-such-id").set(admin);
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ error: { status: 404 } });
    expect((await p.http.get(`/admin/api/resources/Widget/${ids.alice}`).set(admin)).status).toBe(404);
  });
});

describe("GET /admin/api/failures", () => {
  it("lists failed rows with code and message; filters by target, rule and code", async () => {
    const res = await p.http.get("/admin/api/failures").set(admin);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ totalResults: 2, startIndex: 1, itemsPerPage: 2 });
    const failures = (res.body as { failures: Row[] }).failures;
    expect(failures.map((f) => f.id).sort()).toEqual([ids.bob, ids.carol].sort());
    for (const f of failures) expect(f).toMatchObject({ type: "User", rule: "broken", target: "slapd", state: "failed", lastCode: 65, attempts: 2, lastError: expect.any(String) });
    // Newest attempt first.
    expect(failures[0]!.lastAttempt! >= failures[1]!.lastAttempt!).toBe(true);

    const count = async (q: string) => ((await p.http.get(`/admin/api/failures?${q}`).set(admin)).body as { totalResults: number }).totalResults;
    expect(await count("rule=broken")).toBe(2);
    expect(await count("rule=people")).toBe(0);
    expect(await count("target=slapd&code=65")).toBe(2);
    expect(await count("code=32")).toBe(0);
    expect(await count("target=elsewhere")).toBe(0);
  });

  it("pages with startIndex and count in a stable order", async () => {
    const page = async (startIndex: number) => (await p.http.get(`/admin/api/failures?startIndex=${startIndex}&count=1`).set(admin)).body as { totalResults: number; itemsPerPage: number; failures: Row[] };
    const [one, two, three] = [await page(1), await page(2), await page(3)];
    expect(one).toMatchObject({ totalResults: 2, itemsPerPage: 1 });
    expect(two).toMatchObject({ totalResults: 2, itemsPerPage: 1 });
    expect(three).toMatchObject({ totalResults: 2, itemsPerPage: 0, failures: [] });
    expect(new Set([one.failures[0]!.id, two.failures[0]!.id])).toEqual(new Set([ids.bob, ids.carol]));
    expect((await page(1)).failures[0]!.id).toBe(one.failures[0]!.id);
  });

  it("rejects bad paging and code parameters with 400", async () => {
    for (const q of ["startIndex=0", "count=-1", "count=abc", "code=x"]) {
      const res = await p.http.get(`/admin/api/failures?${q}`).set(admin);
      expect(res.status, q).toBe(400);
      expect(res.body).toMatchObject({ error: { status: 400 } });
    }
  });
});

describe("POST /admin/api/retry and /resync", () => {
  it("retry of one resource resets state and attempts; the failure recurs and attempts count again", async () => {
    const before = (await row(ids.bob, "broken"))!;
    // Hold the worker so the reset itself can be observed before it delivers again.
    await p.assembled.provisioning.worker.stop();
    const res = await p.http.post("/admin/api/retry").set(admin).send({ type: "User", id: ids.bob });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ retried: 1 });
    expect(await row(ids.bob, "broken")).toMatchObject({ state: "pending", attempts: 0, next_attempt: null });
    expect(await row(ids.carol, "broken")).toMatchObject({ state: "failed", attempts: 2 });
    expect(await row(ids.bob, "people")).toMatchObject({ state: "in_sync" });

    await p.assembled.provisioning.worker.start();
    await p.settle();
    const after = (await row(ids.bob, "broken"))!;
    expect(after).toMatchObject({ state: "failed", attempts: 2, last_code: 65 });
    expect(after.last_attempt! > before.last_attempt!).toBe(true);
  });

  it("retry all: every failed row back to pending, the worker woken; nothing to retry answers 0", async () => {
    await p.assembled.provisioning.worker.stop();
    const res = await p.http.post("/admin/api/retry").set(admin).send({ all: true });
    expect(res.body).toEqual({ retried: 2 });
    expect(await row(ids.carol, "broken")).toMatchObject({ state: "pending", attempts: 0 });
    await p.assembled.provisioning.worker.start();
    await p.settle();
    expect(await row(ids.carol, "broken")).toMatchObject({ state: "failed", attempts: 2 });

    expect((await p.http.post("/admin/api/retry").set(admin).send({ type: "User", id: ids.alice })).body).toEqual({ retried: 0 });
    expect((await p.http.post("/admin/api/retry").set(admin).send({})).status).toBe(400);
  });

  it("resync queues a change through the outbox: every rule's row pending, then in sync", async () => {
    const before = (await row(ids.alice, "people"))!;
    await p.assembled.provisioning.worker.stop();
    const res = await p.http.post("/admin/api/resync").set(admin).send({ type: "User", id: ids.alice });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ type: "User", id: ids.alice, change: expect.any(Number) });
    const change = await p.sql.one("SELECT resource_id, op, client FROM changes WHERE seq = ?", [(res.body as { change: number }).change]);
    expect(change).toEqual({ resource_id: ids.alice, op: "resync", client: "admin:ops" });

    await p.assembled.provisioning.worker.fanOut(); // what the worker's next pump does first
    for (const rule of ["people", "broken"]) expect(await row(ids.alice, rule)).toMatchObject({ state: "pending", wanted_seq: (res.body as { change: number }).change });
    await p.assembled.provisioning.worker.start();
    await p.settle();
    for (const rule of ["people", "broken"]) expect(await row(ids.alice, rule)).toMatchObject({ state: "in_sync" });
    expect((await row(ids.alice, "people"))!.last_attempt! > before.last_attempt!).toBe(true);
    expect(await ldap.search(`uid=alice,${PEOPLE}`)).toBeDefined();

    expect((await p.http.post("/admin/api/resync").set(admin).send({ type: "User", id: "no-such-id" })).status).toBe(404);
    expect((await p.http.post("/admin/api/resync").set(admin).send({ type: "Widget", id: ids.alice })).status).toBe(400);
  });
});
