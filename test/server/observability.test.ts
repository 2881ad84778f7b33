/**
 * /healthz, /readyz and /metrics: readiness from the database and the real LDAP targets, metric
 * names and exact values after known traffic, and the metrics token.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startSlapd, type SlapdHandle } from "../../hooks/ldap/slapd.js";
import { eventually, useSlapd } from "../harness/slapd.js";
import { testApp, user, type TestApp } from "../helpers/app.js";
import { provisioned, type Provisioned } from "../helpers/provisioned.js";

const ldap = useSlapd();
const RULE = { name: "people", target: "slapd", dn: "uid={userName},ou=people,dc=example,dc=com" };
const TOKEN = "metrics-token-0123456789";

/** The value of one sample line (`name{labels} value`), or undefined when the series is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
async function app(doc: Record<string, unknown> = {}): Promise<TestApp> {
  const a = await testApp(doc);
  cleanups.push(() => a.close());
  return a;
}
async function prov(on: NonNullable<Parameters<typeof provisioned>[0]>): Promise<Provisioned> {
  const p = await provisioned(on, { userRules: [RULE] });
  cleanups.push(() => p.close());
  return p;
}

describe("health", () => {
  it("/healthz answers while the process is up, without SCIM credentials", async () => {
    const a = await app();
    const res = await a.http.get("/healthz").expect(200);
    expect(res.body).toEqual({ status: "ok" });
  });

  it("/readyz is ready with a migrated database and no targets", async () => {
    const a = await app();
    const res = await a.http.get("/readyz").expect(200);
    expect(res.body).toEqual({ status: "ready", database: "ok", targets: {} });
  });

  it("/readyz is 503 not_ready when the database is closed", async () => {
    const a = await app();
    await a.store.close();
    const res = await a.http.get("/readyz").expect(503);
    expect(res.body.status).toBe("not_ready");
    expect(res.body.database).toMatch(/not open/i);
    // The process itself is still up.
    await a.http.get("/healthz").expect(200);
  });

  it("/readyz is 503 when the applied migrations differ from the committed ones", async () => {
    const a = await app();
    a.store.sqlite.prepare("DELETE FROM __drizzle_migrations").run();
    const res = await a.http.get("/readyz").expect(503);
    expect(res.body).toEqual({ status: "not_ready", database: expect.stringMatching(/0 migrations applied, this build has [1-9]\d*/) });
  });

  it("/readyz reports a reachable slapd target as ready", async () => {
    const p = await prov(ldap);
    const res = await p.http.get("/readyz").expect(200);
    expect(res.body).toEqual({ status: "ready", database: "ok", targets: { slapd: { reachable: true, url: ldap.slapd.url, lastError: null } } });
  });

  it("a stopped target makes /readyz degraded (still 200) while SCIM intake goes on and the outbox grows", async () => {
    let slapd: SlapdHandle | undefined = await startSlapd();
    cleanups.push(() => slapd?.stop());
    const p = await prov({ slapd });
    await p.http.post("/scim/v2/Users").set(p.auth).send(user("before")).expect(201);
    await p.settle();
    expect((await p.http.get("/readyz").expect(200)).body.status).toBe("ready");
    let metrics = (await p.http.get("/metrics").expect(200)).text;
    expect(sample(metrics, "scimbridge_outbox_depth")).toBe(0);
    expect(sample(metrics, "scimbridge_oldest_pending_change_age_seconds")).toBe(0);

    await slapd.stop();
    const url = slapd.url;
    slapd = undefined;
    let body: { status?: string; targets?: Record<string, { reachable: boolean; url: string | null; lastError: string | null }> } = {};
    // The probe result is cached for a few seconds; poll until it sees the outage.
    expect(
      await eventually(async () => {
        const res = await p.http.get("/readyz").expect(200);
        body = res.body as typeof body;
        return body.status === "degraded";
      }, 15_000),
    ).toBe(true);
    expect(body.targets?.slapd).toEqual({ reachable: false, url, lastError: expect.any(String) });

    await p.http.post("/scim/v2/Users").set(p.auth).send(user("during")).expect(201);
    expect(
      await eventually(async () => {
        metrics = (await p.http.get("/metrics").expect(200)).text;
        return (sample(metrics, 'scimbridge_deliveries_total{target="slapd",outcome="transient_failure"}') ?? 0) > 0;
      }, 10_000),
    ).toBe(true);
    expect(sample(metrics, "scimbridge_outbox_depth")).toBe(1);
    expect(sample(metrics, "scimbridge_oldest_pending_change_age_seconds")).toBeGreaterThan(0);
    expect(sample(metrics, 'scimbridge_deliveries_total{target="slapd",outcome="success"}')).toBe(1);
  }, 40_000);
});

describe("metrics", () => {
  it("counts SCIM requests by method, route pattern and status, with latency histograms", async () => {
    const a = await app();
    const ids: string[] = [];
    for (const name of ["ann", "bob", "cat"]) {
      ids.push((await a.http.post("/scim/v2/Users").set(a.auth).send(user(name)).expect(201)).body.id as string);
    }
    await a.http.get("/scim/v2/Users").set(a.auth).expect(200);
    await a.http.get("/scim/v2/Users?filter=userName%20eq%20%22ann%22").set(a.auth).expect(200);
    await a.http.get("/scim/v2/Users/00000000-0000-0000-0000-000000000000").set(a.auth).expect(404);
    await a.http.get(`/scim/v2/Users/${ids[0]}`).set(a.auth).expect(200);
    await a.http.get("/scim/v2/Nowhere").set(a.auth).expect(404);
    await a.http.post("/scim/v2/.search").set(a.auth).send({ schemas: ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"] }).expect(200);
    await a.http.get("/scim/v2/Users").expect(401);
    // Outside the SCIM base: neither counted nor labelled.
    await a.http.get("/healthz").expect(200);

    const res = await a.http.get("/metrics").expect(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = res.text;
    expect(sample(m, 'scimbridge_scim_requests_total{method="POST",route="/Users",status="201"}')).toBe(3);
    expect(sample(m, 'scimbridge_scim_requests_total{method="GET",route="/Users",status="200"}')).toBe(2);
    expect(sample(m, 'scimbridge_scim_requests_total{method="GET",route="/Users/:id",status="404"}')).toBe(1);
    expect(sample(m, 'scimbridge_scim_requests_total{method="GET",route="/Users/:id",status="200"}')).toBe(1);
    expect(sample(m, 'scimbridge_scim_requests_total{method="POST",route="/.search",status="200"}')).toBe(1);
    expect(sample(m, 'scimbridge_scim_requests_total{method="GET",route="unmatched",status="404"}')).toBe(1);
    // Authentication runs before routing: a refused request has no route.
    expect(sample(m, 'scimbridge_scim_requests_total{method="GET",route="unmatched",status="401"}')).toBe(1);
    expect(sample(m, 'scimbridge_scim_request_duration_seconds_count{method="POST",route="/Users"}')).toBe(3);
    expect(sample(m, 'scimbridge_scim_request_duration_seconds_bucket{le="+Inf",method="GET",route="/Users"}')).toBe(2);
    // Ids never become label values; the probes are not SCIM requests.
    for (const id of ids) expect(m).not.toContain(id);
    expect(m).not.toContain("00000000-0000");
    expect(m).not.toMatch(/route="\/?healthz"/);
    // Without provisioning nothing fans the outbox out: the three creates are still queued.
    expect(sample(m, "scimbridge_outbox_depth")).toBe(3);
    expect(sample(m, "scimbridge_oldest_pending_change_age_seconds")).toBeGreaterThanOrEqual(0);
    // Default process metrics, on this app's own registry.
    expect(m).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(m).toMatch(/^nodejs_eventloop_lag_seconds /m);
  });

  it("counts deliveries by target and outcome after a real slapd took them", async () => {
    const p = await prov(ldap);
    for (const name of ["dora", "eli", "fay"]) await p.http.post("/scim/v2/Users").set(p.auth).send(user(name)).expect(201);
    await p.settle();
    const m = (await p.http.get("/metrics").expect(200)).text;
    expect(sample(m, 'scimbridge_deliveries_total{target="slapd",outcome="success"}')).toBe(3);
    expect(sample(m, 'scimbridge_deliveries_total{target="slapd",outcome="transient_failure"}')).toBe(0);
    expect(sample(m, 'scimbridge_deliveries_total{target="slapd",outcome="permanent_failure"}')).toBe(0);
    expect(sample(m, 'scimbridge_delivery_duration_seconds_count{target="slapd"}')).toBe(3);
    expect(sample(m, "scimbridge_outbox_depth")).toBe(0);
    expect(sample(m, "scimbridge_oldest_pending_change_age_seconds")).toBe(0);
  });

  it("apps keep separate registries", async () => {
    const a = await app();
    const b = await app();
    await a.http.get("/scim/v2/Users").set(a.auth).expect(200);
    const mb = (await b.http.get("/metrics").expect(200)).text;
    expect(mb).not.toContain("scimbridge_scim_requests_total{");
  });

  it("requires the metrics token when one is configured", async () => {
    const a = await app({ observability: { metricsToken: TOKEN } });
    const none = await a.http.get("/metrics").expect(401);
    expect(none.headers["www-authenticate"]).toMatch(/^Bearer/);
    await a.http.get("/metrics").set("Authorization", `Bearer ${TOKEN}x`).expect(401);
    await a.http.get("/metrics").set(a.auth).expect(401); // a SCIM token is not a metrics token
    const ok = await a.http.get("/metrics").set("Authorization", `Bearer ${TOKEN}`).expect(200);
    expect(ok.text).toContain("# TYPE scimbridge_scim_requests_total counter");
    // Probes stay open.
    await a.http.get("/healthz").expect(200);
  });

  it("serves no /metrics when metrics are off", async () => {
    const a = await app({ observability: { metrics: false } });
    await a.http.get("/metrics").expect(404);
    await a.http.get("/readyz").expect(200);
  });
});
