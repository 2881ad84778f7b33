/**
 * The embedded slapd is supervised: killed with SIGKILL it is started again by itself, on the
 * same data directory and port, with its entries; the status says so (was: never restarted, and
 * deliveries waited for a restart of the whole service).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "ldapts";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, startSlapd } from "../../hooks/ldap/slapd.js";
import { SlapdSupervisor } from "../../hooks/ldap/slapd-supervisor.js";
import { createLogger } from "../../server/logger.js";

const dir = mkdtempSync(join(tmpdir(), "scimbridge-supervise-"));
let supervisor: SlapdSupervisor | undefined;
afterAll(async () => {
  await supervisor?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("slapd supervision", () => {
  it("a killed slapd is restarted with backoff on the same port and data; the status shows it", async () => {
    const port = await freePort();
    const opts = { dir: join(dir, "slapd"), port, rootPassword: "supervised-secret" };
    const first = await startSlapd(opts);
    supervisor = new SlapdSupervisor(first, () => startSlapd(opts), createLogger("silent"), { initialBackoffMs: 100 });
    const c0 = new Client({ url: first.url });
    await c0.bind(first.rootDn, opts.rootPassword);
    await c0.add(`uid=kept,${first.suffix}`, { objectClass: ["account"], uid: "kept" });
    await c0.unbind();

    first.kill("SIGKILL");
    await first.exited;
    expect(supervisor.status()).toMatchObject({ state: "restarting", pid: null, lastExit: expect.stringContaining(`pid ${first.pid} exited`) });

    const until = Date.now() + 15_000;
    while (supervisor.status().state !== "running" && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(supervisor.status()).toMatchObject({ state: "running", restarts: 1 });
    expect(supervisor.current.pid).not.toBe(first.pid);
    expect(supervisor.current.url).toBe(first.url);
    const c = new Client({ url: supervisor.current.url });
    await c.bind(first.rootDn, opts.rootPassword);
    const { searchEntries } = await c.search(first.suffix, { filter: "(uid=kept)" });
    await c.unbind();
    expect(searchEntries).toHaveLength(1);
  }, 30_000);
});
