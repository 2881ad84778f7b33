/**
 * /metrics of a running `serve` with a real slapd target, checked by Prometheus's own linter
 * (`promtool check metrics`, Debian package prometheus), and the gauges operators alert on:
 * scimbridge_deliveries_failed per target and scimbridge_target_up, which drops to 0 when the
 * directory stops.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../server/config/load.js";
import { startServer, type Running } from "../../server/serve.js";
import { eventually, useSlapd } from "../harness/slapd.js";
import { user } from "../helpers/app.js";

const TOKEN = "metrics-test-token-0123456789";
const ldap = useSlapd();
const dir = mkdtempSync(join(tmpdir(), "scimbridge-metrics-"));
let r: Running;

beforeAll(async () => {
  const s = ldap.slapd;
  const config = parseConfig(
    {
      server: { port: 0 },
      storage: { file: join(dir, "db.sqlite") },
      logging: { level: "silent" },
      provisioning: { maxAttempts: 1, retryInitialMs: 10, pollMs: 50 },
      targets: [{ name: "slapd", directory: "openldap", urls: [s.url], bindDn: s.rootDn, bindPassword: s.rootPassword }],
      userRules: [
        { name: "people", target: "slapd", dn: "uid={userName},ou=people,dc=example,dc=com" },
        // uidNumber is not allowed by inetOrgPerson: slapd answers 65 objectClassViolation, a permanent failure.
        { name: "broken", target: "slapd", dn: "uid={userName},ou=groups,dc=example,dc=com", attributes: { uidNumber: "nickName" } },
      ],
    },
    {},
  );
  r = await startServer(config, { env: { SCIM_TOKEN: TOKEN }, handleSignals: false });
}, 60_000);
afterAll(async () => {
  await r?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const scrape = async () => (await fetch(new URL("/metrics", r.url))).text();
const sample = (text: string, series: string) => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe("metrics of a running server", () => {
  it("pass promtool check metrics, every name under scimbridge_ (besides process_ and nodejs_ defaults)", async () => {
    const created = await fetch(`${r.url}/Users`, { method: "POST", headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/scim+json" }, body: JSON.stringify(user("metrics.alice", { nickName: "1000" })) });
    expect(created.status).toBe(201);
    const text = await scrape();
    const promtool = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    if (promtool.error) throw new Error("promtool is not installed: run `bash scripts/install-system-deps.sh` (Debian package prometheus)");
    // prom-client's own default metrics break two conventions (nodejs_active_handles_total is a
    // gauge named like a counter); those are not ours to rename. Ours have no finding at all.
    const findings = (promtool.stdout + promtool.stderr).trim().split("\n").filter(Boolean);
    expect(findings.filter((f) => !/^nodejs_\w+ /.test(f))).toEqual([]);
    const names = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!);
    expect(names.filter((n) => !/^(scimbridge|process|nodejs)_/.test(n))).toEqual([]);
    expect(names).toEqual(expect.arrayContaining(["scimbridge_scim_requests_total", "scimbridge_deliveries_total", "scimbridge_deliveries_failed", "scimbridge_target_up", "scimbridge_delivery_lag_seconds", "scimbridge_outbox_depth"]));
  });

  it("scimbridge_deliveries_failed counts the delivery parked as failed; scimbridge_target_up is 1", async () => {
    expect(await eventually(async () => sample(await scrape(), 'scimbridge_deliveries_failed{target="slapd"}') === 1, 10_000)).toBe(true);
    expect(sample(await scrape(), 'scimbridge_target_up{target="slapd"}')).toBe(1);
  });

  it("scimbridge_delivery_lag_seconds observes the time from the SCIM write's commit to the directory's answer", async () => {
    // The people rule's delivery succeeded: one observation, a lag above zero and well under the test's own run.
    const text = await scrape();
    expect(sample(text, 'scimbridge_delivery_lag_seconds_count{target="slapd"}')).toBeGreaterThanOrEqual(1);
    const sum = sample(text, 'scimbridge_delivery_lag_seconds_sum{target="slapd"}')!;
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThan(30);
  });

  it("scimbridge_target_up drops to 0 when the directory stops", async () => {
    await ldap.slapd.stop();
    expect(await eventually(async () => sample(await scrape(), 'scimbridge_target_up{target="slapd"}') === 0, 15_000)).toBe(true);
  });
});
