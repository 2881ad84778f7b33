/**
 * The admin API endpoints the web page needs (issue 6), over supertest with known audit rows:
 * hourly activity buckets, the audit log filtered by resource and newest first, the targets
 * list, the reconcile dry run without a worker; and the page's own files, headers and mounting.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { pageDir, PAGE_CSP } from "../../server/admin/page-route.js";
import type { AuditRow } from "../../server/observability/audit.js";
import { testApp, user, type TestApp } from "../helpers/app.js";
import { collect } from "../helpers/collect.js";

const ADMIN_TOKEN = "admin-token-0123456789abcdef";
const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };
const NOW = new Date("2025-03-10T12:30:00.000Z");
const TARGET = { name: "dir", directory: "openldap", urls: ["ldap://127.0.0.1:1"], bindDn: "cn=admin,dc=example,dc=com", bindPassword: "secret-bind-password" };

let t: TestApp | undefined;
afterEach(() => t?.close());

const withAdmin = async (extra: Record<string, unknown> = {}) => (t = await testApp({ admin: { tokens: [{ name: "ops", token: ADMIN_TOKEN }] }, ...extra }, { now: () => NOW }));

function ldapRow(app: TestApp, at: string, outcome: "success" | "error", resourceId = "u1"): void {
  app.store.sqlite
    .prepare("INSERT INTO audit_log (at, kind, client, operation, resource_type, resource_id, target, dn, outcome, detail) VALUES (?, 'ldap', 'rule:people', 'add', 'User', ?, 'dir', 'uid=x,dc=example,dc=com', ?, NULL)")
    .run(at, resourceId, outcome);
}

describe("GET /admin/api/activity", () => {
  it("counts LDAP writes by outcome per UTC hour, empty hours as zeros, the current hour last", async () => {
    const a = await withAdmin();
    ldapRow(a, "2025-03-10T08:59:59.999Z", "success"); // before the first bucket
    ldapRow(a, "2025-03-10T09:00:00.000Z", "success"); // first instant of the first bucket
    ldapRow(a, "2025-03-10T10:59:59.999Z", "success");
    ldapRow(a, "2025-03-10T12:05:00.000Z", "success");
    ldapRow(a, "2025-03-10T12:06:00.000Z", "success");
    ldapRow(a, "2025-03-10T12:10:00.000Z", "error");
    ldapRow(a, "2025-03-10T13:00:00.000Z", "success"); // after now (a clock step): in no bucket
    // SCIM writes are not deliveries.
    a.store.sqlite.prepare("INSERT INTO audit_log (at, kind, operation, outcome) VALUES ('2025-03-10T12:01:00.000Z', 'scim', 'POST', '201')").run();

    const res = await a.http.get("/admin/api/activity?hours=4").set(admin);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      hours: 4,
      buckets: [
        { start: "2025-03-10T09:00:00.000Z", success: 1, error: 0 },
        { start: "2025-03-10T10:00:00.000Z", success: 1, error: 0 },
        { start: "2025-03-10T11:00:00.000Z", success: 0, error: 0 },
        { start: "2025-03-10T12:00:00.000Z", success: 2, error: 1 },
      ],
      totals: { success: 4, error: 1 },
    });
  });

  it("24 hours by default, capped at two weeks; bad values are 400; admin token required", async () => {
    const a = await withAdmin();
    const day = (await a.http.get("/admin/api/activity").set(admin)).body as { hours: number; buckets: { start: string }[] };
    expect(day.hours).toBe(24);
    expect(day.buckets).toHaveLength(24);
    expect(day.buckets[0]!.start).toBe("2025-03-09T13:00:00.000Z");
    expect(day.buckets[23]!.start).toBe("2025-03-10T12:00:00.000Z");
    expect(((await a.http.get("/admin/api/activity?hours=100000").set(admin)).body as { hours: number }).hours).toBe(336);
    for (const q of ["hours=0", "hours=-3", "hours=abc"]) expect((await a.http.get(`/admin/api/activity?${q}`).set(admin)).status, q).toBe(400);
    expect((await a.http.get("/admin/api/activity")).status).toBe(401);
  });
});

describe("GET /admin/api/audit: one resource's history", () => {
  it("type and id select one resource's SCIM and LDAP rows; order=desc is newest first", async () => {
    const a = await withAdmin();
    const ids: string[] = [];
    for (const name of ["alice", "bob"]) ids.push(((await a.http.post("/scim/v2/Users").set(a.auth).send(user(name))).body as { id: string }).id);
    const [alice, bob] = ids as [string, string];
    a.audit.recordLdap({ target: "dir", rule: "people", resourceType: "User", resourceId: alice, operation: "add", dn: "uid=alice,dc=x", outcome: "error", code: 65, detail: "not allowed" });
    a.audit.recordLdap({ target: "dir", rule: "people", resourceType: "User", resourceId: bob, operation: "add", dn: "uid=bob,dc=x", outcome: "success" });
    a.audit.recordLdap({ target: "dir", rule: "people", resourceType: "User", resourceId: alice, operation: "add", dn: "uid=alice,dc=x", outcome: "success" });

    const get = async (q: string) => ((await a.http.get(`/admin/api/audit?${q}`).set(admin)).body as { records: AuditRow[] }).records;
    const oldest = await get(`type=User&id=${alice}`);
    expect(oldest.map((r) => [r.kind, r.operation, r.outcome])).toEqual([
      ["scim", "POST", "201"],
      ["ldap", "add", "error"],
      ["ldap", "add", "success"],
    ]);
    expect(oldest.every((r) => r.resourceId === alice)).toBe(true);
    const newest = await get(`type=Users&id=${alice}&order=desc&limit=2`);
    expect(newest.map((r) => r.seq)).toEqual([oldest[2]!.seq, oldest[1]!.seq]);
    expect((await get(`type=User&id=${alice}&kind=ldap`)).map((r) => r.outcome)).toEqual(["error", "success"]);
    expect((await get(`type=User&id=${bob}`)).map((r) => r.kind)).toEqual(["scim", "ldap"]);
    expect(await get("type=User&id=nobody")).toEqual([]);

    for (const q of ["type=Widget&id=x", "order=sideways", "type=User&type=Group&id=x"]) expect((await a.http.get(`/admin/api/audit?${q}`).set(admin)).status, q).toBe(400);
  });
});

describe("AuditLog.export", () => {
  it("newest first pages through more than one internal page (1000 rows) without gaps or repeats", async () => {
    const a = await withAdmin();
    await a.store.transaction(() => {
      for (let i = 0; i < 2500; i++) ldapRow(a, NOW.toISOString(), "success", i % 2 ? "odd" : "even");
    });
    const seqs = (await collect(a.audit.export({ order: "desc" }))).map((r) => r.seq);
    expect(seqs).toHaveLength(2500);
    expect(seqs).toEqual([...seqs].sort((x, y) => y - x));
    expect(new Set(seqs).size).toBe(2500);
    const odd = await collect(a.audit.export({ order: "desc", resourceType: "User", resourceId: "odd", limit: 1100 }));
    expect(odd).toHaveLength(1100);
    expect(odd.every((r) => r.resourceId === "odd")).toBe(true);
    expect(odd[0]!.seq).toBe(seqs[0]);
  });
});

describe("GET /admin/api/targets and POST /admin/api/reconcile without a worker", () => {
  it("lists configured targets without credentials; health null when provisioning is not wired in", async () => {
    const a = await withAdmin({ targets: [TARGET] });
    const res = await a.http.get("/admin/api/targets").set(admin);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ targets: [{ name: "dir", directory: "openldap", urls: ["ldap://127.0.0.1:1"], secure: false, health: null }] });
    expect(JSON.stringify(res.body)).not.toContain("secret-bind-password");
  });

  it("reconcile answers 501 without the worker's connections, 400 for an unknown target", async () => {
    const a = await withAdmin({ targets: [TARGET] });
    expect((await a.http.post("/admin/api/reconcile").set(admin).send({})).status).toBe(501);
    expect((await a.http.post("/admin/api/reconcile").set(admin).send({ target: "nope" })).status).toBe(400);
    expect((await a.http.post("/admin/api/reconcile").send({})).status).toBe(401);
  });
});

describe("the admin page's files", () => {
  it("GET /admin redirects to /admin/, which serves the page with a strict CSP and no caching of stale code", async () => {
    const a = await withAdmin();
    const redirect = await a.http.get("/admin");
    expect(redirect.status).toBe(302);
    expect(redirect.headers.location).toBe("admin/");
    const res = await a.http.get("/admin/");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/html/);
    expect(res.headers["content-security-policy"]).toBe(PAGE_CSP);
    expect(PAGE_CSP).toContain("script-src 'self'");
    expect(PAGE_CSP).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    expect(res.headers["cache-control"]).toBe("no-cache");
    expect(res.text).toContain('<script type="module" src="app.js"></script>');
  });

  it("every file the page and its modules reference is served, as the right type; nothing inline", async () => {
    const a = await withAdmin();
    const html = (await a.http.get("/admin/")).text;
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=/i);
    const refs = [...html.matchAll(/(?:src|href)="([\w-]+\.(?:js|css))"/g)].map((m) => m[1]!);
    const seen = new Set<string>();
    while (refs.length) {
      const file = refs.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const res = await a.http.get(`/admin/${file}`);
      expect(res.status, file).toBe(200);
      expect(res.headers["content-type"], file).toMatch(file.endsWith(".js") ? /^(text|application)\/javascript/ : /^text\/css/);
      if (file.endsWith(".js")) {
        const source = readFileSync(join(pageDir(), file), "utf8");
        expect(source, file).not.toMatch(/\.(?:inner|outer)HTML\s*=|insertAdjacentHTML\(|document\.write|\beval\(|new Function/);
        for (const m of source.matchAll(/from "\.\/([\w-]+\.js)"/g)) refs.push(m[1]!);
      }
    }
    expect([...seen].sort()).toEqual(["api.js", "app.js", "client-report.js", "dom.js", "failures.js", "logs.js", "overview.js", "plot.js", "resource.js", "style.css"]);
    expect((await a.http.get("/admin/no-such-file.js")).status).toBe(404);
  });

  it("with no admin token configured neither the page nor its files exist", async () => {
    const a = (t = await testApp());
    for (const path of ["/admin", "/admin/", "/admin/app.js"]) expect((await a.http.get(path)).status, path).toBe(404);
  });

  it("the page's directory is found (dist/ resolves it back to the source tree)", () => {
    expect(readFileSync(join(pageDir(), "index.html"), "utf8")).toContain("<title>scimbridge admin</title>");
  });
});
