/**
 * Audit log: SCIM writes (failed ones too) from the HTTP layer, LDAP writes from the delivery
 * worker against a real slapd, retention pruning, and the JSON lines export (admin API and CLI).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AuditLog, type AuditRow } from "../../server/observability/audit.js";
import { PATCH_OP, testApp, user, type TestApp } from "../helpers/app.js";
import { collect } from "../helpers/collect.js";
import { runCli } from "../helpers/cli.js";
import { provisioned, type Provisioned } from "../helpers/provisioned.js";
import { useSlapd } from "../harness/slapd.js";

const ADMIN_TOKEN = "admin-token-0123456789abcdef";
const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };
const PEOPLE = "ou=people,dc=example,dc=com";

const rows = (store: { sqlite: { prepare(sql: string): { all(...a: unknown[]): unknown[] } } }, kind: string) =>
  store.sqlite.prepare("SELECT * FROM audit_log WHERE kind = ? ORDER BY seq").all(kind) as Record<string, unknown>[];

describe("audit log: SCIM writes", () => {
  let a: TestApp | undefined;
  afterEach(() => a?.close());

  it("records each write with client, method, resource and status; failures and searches as they are", async () => {
    const t = (a = await testApp({ admin: { tokens: [{ name: "ops", token: ADMIN_TOKEN }] } }));
    const created = await t.http.post("/scim/v2/Users").set(t.auth).set("X-Request-Id", "r-1").send(user("alice", { password: "Sup3r-Secret!" }));
    expect(created.status).toBe(201);
    const id = (created.body as { id: string }).id;
    expect((await t.http.post("/scim/v2/Users").set(t.auth).send(user("alice"))).status).toBe(409);
    expect((await t.http.patch(`/scim/v2/Users/${id}`).set(t.auth).send({ schemas: [PATCH_OP], Operations: [{ op: "replace", path: "displayName", value: "A" }] })).status).toBe(200);
    expect((await t.http.put("/scim/v2/Users/no-such-id").set(t.auth).send(user("x"))).status).toBe(404);
    expect((await t.http.delete(`/scim/v2/Users/${id}`).set(t.auth)).status).toBe(204);
    expect((await t.http.delete(`/scim/v2/Users/${id}`)).status).toBe(401);
    // Reads and searches are not writes.
    await t.http.get("/scim/v2/Users").set(t.auth);
    await t.http.post("/scim/v2/Users/.search").set(t.auth).send({ schemas: ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"] });
    await t.audit.flush(); // rows are written at the end of a turn, in a transaction of their own

    const got = rows(t.store, "scim");
    expect(got.map((r) => [r.client, r.operation, r.resource_type, r.resource_id, r.outcome])).toEqual([
      ["test-client", "POST", "User", id, "201"],
      ["test-client", "POST", "User", null, "409"],
      ["test-client", "PATCH", "User", id, "200"],
      ["test-client", "PUT", "User", "no-such-id", "404"],
      ["test-client", "DELETE", "User", id, "204"],
      [null, "DELETE", "User", id, "401"],
    ]);
    expect(got[0]!.detail).toContain("request r-1");
    expect(JSON.stringify(got)).not.toContain("Sup3r-Secret!");

    // Admin API: JSON, and JSON lines on request; filters.
    const json = await t.http.get("/admin/api/audit?kind=scim&limit=2").set(admin);
    expect(json.status).toBe(200);
    expect((json.body as { records: AuditRow[] }).records.map((r) => r.outcome)).toEqual(["201", "409"]);
    const nd = await t.http.get("/admin/api/audit").set(admin).set("Accept", "application/x-ndjson").buffer(true).parse((res, cb) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => cb(null, text));
    });
    expect(nd.headers["content-type"]).toContain("application/x-ndjson");
    const lines = (nd.body as string).trim().split("\n").map((l) => JSON.parse(l) as AuditRow);
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatchObject({ kind: "scim", operation: "POST", outcome: "201" });
    expect(((await t.http.get("/admin/api/audit?since=2999-01-01T00:00:00Z").set(admin)).body as { records: unknown[] }).records).toEqual([]);
    expect((await t.http.get("/admin/api/audit?kind=http").set(admin)).status).toBe(400);
    expect((await t.http.get("/admin/api/audit?since=yesterday").set(admin)).status).toBe(400);
  });

  it("scimbridge audit export prints JSON lines (as a process), filtered by --kind and --since", async () => {
    const t = (a = await testApp());
    await t.http.post("/scim/v2/Users").set(t.auth).send(user("bob"));
    await t.http.post("/scim/v2/Groups").set(t.auth).send({ schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: "g" });
    t.audit.recordLdap({ target: "dir", rule: "people", resourceType: "User", resourceId: "u1", operation: "add", dn: "uid=bob,dc=x", outcome: "success" });
    // Rows are written at the end of the event-loop turn; the CLI below runs synchronously.
    await t.audit.flush();
    const cfg = join(t.dir, "config.yaml");
    writeFileSync(cfg, JSON.stringify({ storage: { file: t.dbFile }, logging: { level: "silent" } }));

    const all = runCli(["audit", "export", "--config", cfg]);
    expect(all.stderr).toBe("");
    expect(all.code).toBe(0);
    const parsed = all.stdout.trim().split("\n").map((l) => JSON.parse(l) as AuditRow);
    expect(parsed.map((r) => [r.kind, r.operation, r.resourceType])).toEqual([
      ["scim", "POST", "User"],
      ["scim", "POST", "Group"],
      ["ldap", "add", "User"],
    ]);
    const ldapOnly = runCli(["audit", "export", "--config", cfg, "--kind", "ldap"]);
    expect(ldapOnly.stdout.trim().split("\n").map((l) => (JSON.parse(l) as AuditRow).dn)).toEqual(["uid=bob,dc=x"]);
    expect(runCli(["audit", "export", "--config", cfg, "--since", "2999-01-01T00:00:00Z"]).stdout).toBe("");
    expect(runCli(["audit", "export", "--config", cfg, "--kind", "http"]).code).toBe(2);
  });
});

describe("audit log: retention", () => {
  it("prune drops rows older than retentionDays, keeps the rest", async () => {
    const t = await testApp();
    try {
      let now = new Date("2024-01-01T00:00:00Z");
      const audit = new AuditLog(t.store, () => now);
      audit.recordScim({ client: "c", method: "POST", resourceType: "User", status: 201 });
      now = new Date("2024-01-20T00:00:00Z");
      audit.recordScim({ client: "c", method: "DELETE", resourceType: "User", status: 204 });
      now = new Date("2024-02-05T00:00:00Z");
      expect(await audit.prune(30)).toBe(1);
      expect((await collect(audit.export())).map((r) => r.operation)).toEqual(["DELETE"]);
      expect(await audit.prune(30)).toBe(0);
      now = new Date("2024-03-01T00:00:00Z");
      expect(await audit.prune(30)).toBe(1);
      expect(await collect(audit.export())).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it("audit.retentionDays defaults to 30 and is validated", async () => {
    const t = await testApp();
    try {
      expect(t.config.audit).toEqual({ retentionDays: 30 });
      expect(t.config.inspector).toEqual({ enabled: true, size: 200 });
    } finally {
      await t.close();
    }
    await expect(testApp({ audit: { retentionDays: 0 } })).rejects.toThrow(/retentionDays/);
  });
});

describe("audit log: LDAP writes (real slapd)", () => {
  const ldap = useSlapd();
  let p: Provisioned;
  beforeAll(async () => {
    p = await provisioned(ldap, {
      userRules: [
        { name: "people", target: "slapd", dn: `uid={userName},${PEOPLE}` },
        // No such parent: every add fails with noSuchObject (32).
        { name: "broken", target: "slapd", filter: 'title eq "Broken"', dn: "uid={userName},ou=nowhere,dc=example,dc=com" },
      ],
      provisioning: { maxAttempts: 1 },
    });
  });
  afterAll(async () => p?.close());

  it("records each LDAP operation with target, DN and outcome; a failure with its result code", async () => {
    const created = await p.http.post("/scim/v2/Users").set(p.auth).send(user("dave", { password: "Sup3r-Secret!9" }));
    expect(created.status).toBe(201);
    const id = (created.body as { id: string }).id;
    await p.settle();
    expect((await p.http.patch(`/scim/v2/Users/${id}`).set(p.auth).send({ schemas: [PATCH_OP], Operations: [{ op: "replace", path: "displayName", value: "Dave D" }] })).status).toBe(200);
    await p.settle();
    expect((await p.http.delete(`/scim/v2/Users/${id}`).set(p.auth)).status).toBe(204);
    await p.settle();

    const ldapRows = rows(p.store, "ldap").filter((r) => r.resource_id === id);
    const dn = `uid=dave,${PEOPLE}`;
    expect(ldapRows.length).toBeGreaterThanOrEqual(3);
    expect(ldapRows[0]).toMatchObject({ target: "slapd", client: "rule:people", resource_type: "User", operation: "add", dn, outcome: "success" });
    expect(ldapRows.some((r) => r.operation === "modify" && r.outcome === "success" && String(r.detail).includes("displayName"))).toBe(true);
    expect(ldapRows.at(-1)).toMatchObject({ dn, outcome: "success" });
    expect(JSON.stringify(ldapRows)).not.toContain("Sup3r-Secret!9");
    // The SCIM side of the same story.
    expect(rows(p.store, "scim").map((r) => [r.operation, r.outcome])).toEqual([
      ["POST", "201"],
      ["PATCH", "200"],
      ["DELETE", "204"],
    ]);
  });

  it("a rejected write is recorded as an error with the LDAP result code", async () => {
    const created = await p.http.post("/scim/v2/Users").set(p.auth).send(user("erin", { title: "Broken" }));
    const id = (created.body as { id: string }).id;
    await p.settle().catch(() => undefined);
    const failed = rows(p.store, "ldap").filter((r) => r.resource_id === id && r.outcome === "error");
    expect(failed.length).toBeGreaterThanOrEqual(1);
    expect(failed[0]).toMatchObject({ target: "slapd", client: "rule:broken", operation: "add", dn: "uid=erin,ou=nowhere,dc=example,dc=com" });
    expect(String(failed[0]!.detail)).toMatch(/^code 32/);
  });
});
