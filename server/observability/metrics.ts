/**
 * Prometheus metrics (prom-client) on a registry of the app's own: never the global default one,
 * since one process holds many apps in tests (and a counter registered twice globally throws).
 * SCIM traffic is counted by a middleware on the SCIM base path, deliveries through the worker's
 * onDelivery hook, and the outbox gauges are read from SQLite when Prometheus scrapes
 * (db/metrics-queries.ts).
 *
 * Names follow Prometheus's conventions (https://prometheus.io/docs/practices/naming/): one
 * `scimbridge_` prefix, base units (`_seconds`), `_total` on counters only.
 */
import type { Request, RequestHandler } from "express";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Store } from "../../db/store.js";

export type DeliveryOutcome = "success" | "transient_failure" | "permanent_failure";
export interface DeliveryEvent {
  target: string;
  outcome: DeliveryOutcome;
  seconds: number;
  /** From the SCIM write's commit to the directory's answer (absent when the worker does not know it). */
  lagSeconds?: number | undefined;
}

/** Reachability per target, as /readyz reports it (server/observability/health.ts). */
export type TargetReachability = () => Promise<Record<string, { reachable: boolean }>>;

const OUTCOMES: DeliveryOutcome[] = ["success", "transient_failure", "permanent_failure"];
export const UNMATCHED_ROUTE = "unmatched";

export interface Metrics {
  registry: Registry;
  /** Counts and times requests under the SCIM base path; mount it with `app.use(basePath, …)`. */
  scimRequests: RequestHandler;
  recordDelivery(e: DeliveryEvent): void;
  /** Where scimbridge_target_up reads reachability from (the server's probes); without it the gauge has no series. */
  watchTargets(probe: TargetReachability): void;
  /** The exposition text and its content type; registers the default process metrics on first use. */
  scrape(): Promise<{ contentType: string; body: string }>;
}

/** A route's path as a label: RegExp routes (/Me, /Bulk) as their pattern without anchors. */
function pathLabel(path: unknown): string {
  if (path instanceof RegExp) return path.source.replace(/^\^/, "").replace(/\$$/, "").replace(/\\\//g, "/");
  return typeof path === "string" ? path : String(path);
}

/**
 * Remembers the route pattern that Express matches for this request. The router assigns
 * `req.route` at the moment it dispatches a route, while `req.baseUrl` still holds the mount path
 * of every enclosing router; by the time the response finishes (after a handler threw, say) the
 * routers have restored baseUrl, so the pattern must be captured on assignment, not at the end.
 */
function captureRoute(req: Request, basePath: string): { route?: string } {
  const seen: { route?: string } = {};
  let current: unknown = req.route;
  Object.defineProperty(req, "route", {
    configurable: true,
    enumerable: true,
    get: () => current,
    set(value: unknown) {
      current = value;
      const path = (value as { path?: unknown } | undefined)?.path;
      if (path === undefined) return;
      const full = `${req.baseUrl}${pathLabel(path)}`;
      // Labels are relative to the SCIM base path (`/Users/:id`), whatever it is configured to.
      const rel = full.startsWith(basePath) ? full.slice(basePath.length) : full;
      seen.route = rel === "" ? "/" : rel.length > 1 ? rel.replace(/\/$/, "") : rel;
    },
  });
  return seen;
}

export function createMetrics(o: { store: Store; basePath: string; targets: string[] }): Metrics {
  const registry = new Registry();
  const registers = [registry];

  const requests = new Counter({
    name: "scimbridge_scim_requests_total",
    help: "SCIM requests by method, matched route pattern and response status",
    labelNames: ["method", "route", "status"] as const,
    registers,
  });
  const requestSeconds = new Histogram({
    name: "scimbridge_scim_request_duration_seconds",
    help: "SCIM request latency (until the response is written) by method and matched route pattern",
    labelNames: ["method", "route"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const deliveries = new Counter({
    name: "scimbridge_deliveries_total",
    help: "LDAP deliveries by target and outcome (transient failures are retried; permanent ones need a change or an operator)",
    labelNames: ["target", "outcome"] as const,
    registers,
  });
  const deliverySeconds = new Histogram({
    name: "scimbridge_delivery_duration_seconds",
    help: "Time of one delivery to an LDAP target: mapping, planning and the LDAP operations",
    labelNames: ["target"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  // Zero series for every configured target, so a rate() or an alert on failures has a series to
  // look at before the first failure happens.
  for (const target of o.targets) {
    for (const outcome of OUTCOMES) deliveries.inc({ target, outcome }, 0);
  }

  new Gauge({
    name: "scimbridge_outbox_depth",
    help: "Changes not yet fanned out to rules plus deliveries pending or retrying",
    registers,
    async collect() {
      this.set(await o.store.metrics.outboxDepth());
    },
  });
  new Gauge({
    name: "scimbridge_deliveries_needing_password",
    help: "Entries added again to a directory without the password they had (erased once delivered): they cannot log in until the identity provider sends a new one",
    registers,
    async collect() {
      this.set((await o.store.metrics.countByTarget("needs_password")).reduce((sum, r) => sum + r.n, 0));
    },
  });
  new Gauge({
    name: "scimbridge_deliveries_failed",
    help: "Deliveries parked as failed (permanent LDAP errors past provisioning.maxAttempts), per target: they wait for an operator's retry or a new change",
    labelNames: ["target"] as const,
    registers,
    async collect() {
      const counts = new Map(o.targets.map((t) => [t, 0]));
      for (const r of await o.store.metrics.countByTarget("failed")) counts.set(r.target, r.n);
      for (const [target, n] of counts) this.set({ target }, n);
    },
  });
  new Gauge({
    name: "scimbridge_oldest_pending_change_age_seconds",
    help: "Age of the oldest change not yet delivered (0 when none); coalesced changes count from their newest",
    registers,
    async collect() {
      const at = await o.store.metrics.oldestPendingAt();
      this.set(at ? Math.max(0, (Date.now() - Date.parse(at)) / 1000) : 0);
    },
  });
  let reachability: TargetReachability | undefined;
  new Gauge({
    name: "scimbridge_target_up",
    help: "1 when the LDAP target answered its last probe (a root DSE read, as /readyz), else 0",
    labelNames: ["target"] as const,
    registers,
    async collect() {
      if (!reachability) return;
      for (const [target, h] of Object.entries(await reachability())) this.set({ target }, h.reachable ? 1 : 0);
    },
  });
  const lag = new Histogram({
    name: "scimbridge_delivery_lag_seconds",
    help: "From a SCIM write's commit to the directory's answer to its delivery, per target",
    labelNames: ["target"] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
    registers,
  });

  let defaults = false;
  return {
    registry,
    scimRequests(req, res, next) {
      const started = process.hrtime.bigint();
      const seen = captureRoute(req, o.basePath);
      res.on("finish", () => {
        const route = seen.route ?? UNMATCHED_ROUTE;
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        requests.inc({ method: req.method, route, status: String(res.statusCode) });
        requestSeconds.observe({ method: req.method, route }, seconds);
      });
      next();
    },
    recordDelivery(e) {
      deliveries.inc({ target: e.target, outcome: e.outcome });
      deliverySeconds.observe({ target: e.target }, e.seconds);
      if (e.lagSeconds !== undefined) lag.observe({ target: e.target }, e.lagSeconds);
    },
    watchTargets(probe) {
      reachability = probe;
    },
    async scrape() {
      // Registered on the first scrape, not at creation: they start an event-loop monitor and a
      // GC observer that are never stopped, which apps that are never scraped (tests) need not pay.
      if (!defaults) {
        collectDefaultMetrics({ register: registry });
        defaults = true;
      }
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
