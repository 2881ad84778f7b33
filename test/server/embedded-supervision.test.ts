/**
 * `serve` with the embedded slapd: when slapd dies (SIGKILL) it is restarted by itself with
 * backoff, /readyz shows the embedded target restarting and then reachable again, and a user
 * created meanwhile is delivered without restarting scimbridge.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../../hooks/ldap/slapd.js";
import { parseConfig } from "../../server/config/load.js";
import { startServer, type Running } from "../../server/serve.js";
import { user } from "../helpers/app.js";

const TOKEN = "supervision-test-token-0123456789";
const dir = mkdtempSync(join(tmpdir(), "scimbridge-embedded-"));
let running: Running | undefined;
afterAll(async () => {
  await running?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const get = async (path: string) => {
  const res = await fetch(`${running!.url.replace(/\/scim\/v2$/, "")}${path}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
const until = async (what: string, fn: () => Promise<boolean>, ms = 20_000) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
};

describe("the embedded slapd under supervision", () => {
  it("is restarted after SIGKILL; /readyz shows it; deliveries resume without restarting scimbridge", async () => {
    const config = parseConfig(
      { server: { port: 0 }, storage: { file: join(dir, "db.sqlite") }, embeddedDirectory: { enabled: true, dir: join(dir, "slapd"), port: await freePort() }, logging: { level: "silent" }, provisioning: { retryInitialMs: 100, retryMaxMs: 500, pollMs: 100 } },
      {},
    );
    running = await startServer(config, { env: { SCIM_TOKEN: TOKEN }, handleSignals: false });
    running.embedded!.kill("SIGKILL");
    await running.embedded!.exited;
    const created = await fetch(`${running.url}/Users`, { method: "POST", headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/scim+json" }, body: JSON.stringify(user("during-outage")) });
    expect(created.status).toBe(201);
    const id = ((await created.json()) as { id: string }).id;

    const ready = await get("/readyz");
    const embedded = (ready.body.targets as Record<string, { reachable: boolean; lastError: string | null; supervisor?: { state: string } }>).embedded!;
    expect(embedded.supervisor?.state).toMatch(/restarting|running/);

    await until("slapd restarted", async () => {
      const t = ((await get("/readyz")).body.targets as Record<string, { reachable: boolean; supervisor?: { state: string; restarts: number } }>).embedded!;
      return t.reachable && t.supervisor?.state === "running" && t.supervisor.restarts === 1;
    });
    await until("the user delivered", async () => {
      const [row] = await running!.store.syncStatus.rowsOf("User", id);
      return row?.state === "in_sync";
    });
  }, 60_000);
});
