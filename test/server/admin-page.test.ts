/**
 * The admin web page (issue 6) in headless Chromium (Debian's, never a downloaded one) against the
 * real chain: SCIM app and delivery worker on a real 127.0.0.1 port, a real slapd. A user rule maps
 * nickName to uidNumber, which inetOrgPerson does not allow: slapd refuses the add (65
 * objectClassViolation). The operator signs in, finds the failure, opens the user, the rule is
 * fixed (the app restarted on the same database), Retry is pressed in the page, and the user ends
 * in sync. Screenshots of each state go to test-artifacts/admin-page/.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { user } from "../helpers/app.js";
import { ROOT } from "../helpers/cli.js";
import { provisioned, type Provisioned } from "../helpers/provisioned.js";
import { useSlapd } from "../harness/slapd.js";

const ldap = useSlapd();
const ADMIN_TOKEN = "admin-page-token-0123456789abcdef";
const PEOPLE = "ou=people,dc=example,dc=com";
const ARTIFACTS = join(ROOT, "test-artifacts", "admin-page");
const MARKUP = "<img src=x id=injected>";
// uidNumber belongs to posixAccount, not inetOrgPerson: slapd refuses users with a nickName.
const BROKEN = [{ name: "people", target: "slapd", dn: `uid={userName},${PEOPLE}`, attributes: { uidNumber: "nickName" } }];
const FIXED = [{ name: "people", target: "slapd", dn: `uid={userName},${PEOPLE}` }];
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const WAIT = { timeout: 20_000 };

let dir: string;
let p: Provisioned | undefined;
let server: Server | undefined;
let browser: Browser | undefined;
let page: Page;
let base: string;
/** The HTTP server stays up across the restart; requests go to whichever app runs now. */
let handler: RequestListener = (_req, res) => {
  res.statusCode = 503;
  res.end();
};
const ids = { alice: "", bob: "" };
const pageErrors: string[] = [];
const requestUrls: string[] = [];

async function start(userRules: Record<string, unknown>[]): Promise<Provisioned> {
  const started = await provisioned(ldap, {
    userRules,
    dbFile: join(dir, "scim.db"),
    provisioning: { maxAttempts: 1 },
    admin: { tokens: [{ name: "ops", token: ADMIN_TOKEN }] },
  });
  handler = started.assembled.app.app as unknown as RequestListener;
  return started;
}

const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), "scimbridge-admin-page-"));
  p = await start(BROKEN);
  server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  for (const [name, extra] of [
    ["alice", { displayName: "Alice" }],
    ["bob", { nickName: "1000", displayName: MARKUP }],
  ] as const) {
    const res = await p.http.post("/scim/v2/Users").set(p.auth).send(user(name, extra));
    expect(res.status).toBe(201);
    ids[name] = (res.body as { id: string }).id;
  }
  await p.settle();

  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("pageerror", (e) => pageErrors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    // A 503 while the app restarts is expected; a CSP violation or script error is not.
    if (m.type() === "error" && !/Failed to load resource/.test(m.text())) pageErrors.push(`console: ${m.text()}`);
  });
  page.on("request", (r) => requestUrls.push(r.url()));
});

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  if (server) {
    server.closeAllConnections();
    await new Promise((r) => server!.close(r));
  }
  await p?.close().catch(() => undefined);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("admin page in headless Chromium", () => {
  it("serves the page at /admin with a strict CSP and asks for the admin token", async () => {
    const res = await page.goto(`${base}/admin`);
    expect(page.url()).toBe(`${base}/admin/`);
    expect(res!.status()).toBe(200);
    const csp = res!.headers()["content-security-policy"]!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    await page.getByLabel("Admin token").waitFor();

    await page.getByLabel("Admin token").fill("not-the-admin-token-0123456789");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("That token was not accepted.").waitFor(WAIT);
  });

  it("signs in: targets with reachability and counts by state, per target and rule", async () => {
    await page.getByLabel("Admin token").fill(ADMIN_TOKEN);
    await page.getByRole("button", { name: "Sign in" }).click();
    const target = page.locator('tr.target[data-target="slapd"]');
    await target.waitFor(WAIT);
    await target.locator(".badge", { hasText: /^reachable$/ }).waitFor(WAIT);
    const cells = await target.locator("td.num").allTextContents();
    expect(cells).toEqual(["1", "0", "0", "1", "0", "0"]); // in sync, pending, retrying, failed, out of scope, needs password
    expect(await page.locator('tr.rule[data-rule="people"] td.num').allTextContents()).toEqual(["1", "0", "0", "1", "0", "0"]);
    // The token is in this tab's sessionStorage only, never in a URL.
    expect(await page.evaluate("sessionStorage.getItem('scimbridge.adminToken')")).toBe(ADMIN_TOKEN);
    expect(page.url()).not.toContain(ADMIN_TOKEN);
    await shot("overview");
  });

  it("plots deliveries and failures per hour from the audit log", async () => {
    const plot = page.locator("figure.activity");
    await plot.locator("rect.bar.ok").first().waitFor(WAIT);
    const bars = await plot.locator("rect.bar").evaluateAll((rects) =>
      rects.map((r) => ({ cls: r.getAttribute("class"), count: Number(r.getAttribute("data-count")), height: Number(r.getAttribute("height")) })),
    );
    // alice's add succeeded, bob's was refused: one of each, in the current hour.
    expect(bars).toEqual([
      { cls: "bar ok", count: 1, height: expect.any(Number) },
      { cls: "bar err", count: 1, height: expect.any(Number) },
    ]);
    for (const b of bars) expect(b.height).toBeGreaterThan(0);
    expect(await plot.locator("figcaption").textContent()).toContain("1 LDAP writes succeeded and 1 failed in the last 24 hours");
    await plot.screenshot({ path: join(ARTIFACTS, "plot.png") });
  });

  it("shows the traffic inspector and the audit log", async () => {
    await page.getByRole("link", { name: "Traffic" }).click();
    const request = page.locator("tr.request", { hasText: "/scim/v2/Users" }).first();
    await request.waitFor(WAIT);
    expect(await page.locator("tr.request").count()).toBe(2);
    await request.getByRole("button", { name: "Bodies" }).click();
    await page.locator("tr.detail:not([hidden])").getByText('"userName"', { exact: false }).first().waitFor(WAIT);
    await shot("traffic");

    await page.getByRole("link", { name: "Audit log" }).click();
    await page.locator('table.audit tr[data-kind="ldap"]').first().waitFor(WAIT);
    expect(await page.locator('table.audit tr[data-kind="ldap"]').count()).toBe(2);
    expect(await page.locator('table.audit tr[data-kind="scim"]').count()).toBe(2);
    await shot("audit");

    await page.getByRole("link", { name: "Client conformance" }).click();
    await page.locator("table.client-report tr", { hasText: "/Users" }).first().waitFor(WAIT);
    expect(await page.locator("table.client-report").first().textContent()).toContain("accepted as RFC");
    await shot("client-conformance");
  });

  it("lists the failure with its LDAP result code and error", async () => {
    await page.getByRole("link", { name: "Failures" }).click();
    const row = page.locator(`tr.failure[data-id="${ids.bob}"]`);
    await row.waitFor(WAIT);
    expect(await page.locator("tr.failure").count()).toBe(1);
    expect(await row.locator("td.code").textContent()).toBe("65");
    expect(await row.locator("td.msg").textContent()).toMatch(/uidNumber|object class/i);
    expect(await row.locator(".badge").textContent()).toBe("failed");
    await shot("failures");
  });

  it("opens the user: state, code, planned operations and history; data is shown as text", async () => {
    await page.locator(`tr.failure[data-id="${ids.bob}"] a`).click();
    const card = page.locator('.rule-card[data-rule="people"]');
    await card.waitFor(WAIT);
    expect(page.url()).toContain(`#/resource/User/${ids.bob}`);
    expect(await page.locator("#view h1").textContent()).toBe("User bob");
    expect(await card.locator(".badge").textContent()).toBe("failed");
    expect(await card.locator(".code").textContent()).toBe("65");
    const planned = await card.locator(".planned").textContent();
    expect(planned).toContain(`uid=bob,${PEOPLE}`);
    expect(planned).toContain("uidNumber");
    expect(await page.locator('table.history tr[data-kind="ldap"][data-outcome="error"]').count()).toBe(1);
    expect(await page.locator('table.history tr[data-kind="scim"]').count()).toBe(1);
    // The displayName is markup: it must show as characters, never become an element.
    expect(await page.locator("#injected").count()).toBe(0);
    expect(await page.locator("pre.json").first().textContent()).toContain(MARKUP);
    await shot("detail");
  });

  it("after the rule is fixed (restart on the same database), Retry in the page brings the user in sync", async () => {
    handler = (_req, res) => {
      res.statusCode = 503;
      res.end();
    };
    await p!.close();
    p = await start(FIXED);
    // The failure is parked: a new rule config alone does not redeliver it.
    await new Promise((r) => setTimeout(r, 300));
    expect(p.store.sqlite.prepare("SELECT state FROM sync_state WHERE resource_id = ?").get(ids.bob)).toEqual({ state: "failed" });

    await page.locator("#retry-resource:not([disabled])").click(WAIT);
    const card = page.locator('.rule-card[data-rule="people"]');
    // Bounded: the page polls every second after an action.
    await card.locator('.badge[data-state="in_sync"]').waitFor(WAIT);
    await page.locator('table.history tr[data-kind="ldap"][data-outcome="success"]').waitFor(WAIT);
    expect(await card.locator(".planned").count()).toBe(0);
    expect(await page.locator("#notice").textContent()).toBe("1 delivery set back to pending.");
    expect(await ldap.search(`uid=bob,${PEOPLE}`, ["displayName"])).toEqual({ displayname: [MARKUP] });
    await shot("after-retry");
  });

  it("the overview then shows everything in sync, and a reconcile dry run finds no drift", async () => {
    await page.getByRole("link", { name: "Overview" }).click();
    const target = page.locator('tr.target[data-target="slapd"]');
    await target.waitFor(WAIT);
    expect(await target.locator("td.num").allTextContents()).toEqual(["2", "0", "0", "0", "0", "0"]);
    await page.getByRole("button", { name: "Reconcile (dry run)" }).click();
    const result = page.locator(".reconcile-result tbody tr");
    await result.waitFor(WAIT);
    // rule, target, expected, in directory, missing, extra, differing, unmappable, unmanaged, error
    expect(await result.locator("th, td").allTextContents()).toEqual(["people", "slapd", "2", "2", "0", "0", "0", "0", "0", ""]);
    await shot("reconcile");
  });

  it("never put the token in a URL and met no script error or CSP violation", () => {
    expect(requestUrls.length).toBeGreaterThan(10);
    expect(requestUrls.filter((u) => u.includes(ADMIN_TOKEN))).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
