/**
 * /healthz, /readyz and /metrics, outside the SCIM base path and its authentication.
 * Readiness is the database only: a down LDAP target makes the service `degraded`, still 200,
 * because SCIM intake keeps working and the outbox delivers once the target is back. A database
 * that cannot be written (a full or read-only disk) is unready with the reason; readiness
 * returns by itself once a write goes through (probed here while the fault lasts).
 */
import express, { type Router } from "express";
import type { Store } from "../../db/store.js";
import type { LdapTarget } from "../../hooks/delivery/index.js";
import type { JwksState } from "../auth/jwks.js";
import { safeEqual } from "../auth/middleware.js";
import type { Metrics } from "./metrics.js";

export interface TargetHealth {
  reachable: boolean;
  url: string | null;
  lastError: string | null;
}
export type TargetsHealth = Record<string, TargetHealth>;

/**
 * Per-target reachability for /readyz: the connection's own view (LdapTarget.health()) refreshed
 * by a root DSE read (check()) that is bounded by `timeoutMs` and cached for `cacheMs`, so probes
 * every few seconds from several replicas of a load balancer never queue behind one another or
 * hammer the directory. A check still running when the bound expires answers with the last state.
 */
export function probeTargets(
  targets: Map<string, { connection: Pick<LdapTarget, "health" | "check"> }>,
  opts: { timeoutMs?: number; cacheMs?: number } = {},
): () => Promise<TargetsHealth> {
  const timeoutMs = opts.timeoutMs ?? 1500;
  const cacheMs = opts.cacheMs ?? 3000;
  const cache = new Map<string, { at: number; running?: Promise<unknown> }>();
  const refresh = async (name: string, connection: Pick<LdapTarget, "health" | "check">): Promise<void> => {
    const entry = cache.get(name);
    if (entry && Date.now() - entry.at < cacheMs) return;
    const running = entry?.running ?? connection.check().catch(() => undefined);
    cache.set(name, { at: entry?.at ?? 0, running });
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([running.then(() => cache.set(name, { at: Date.now() })), bound]);
    clearTimeout(timer);
  };
  return async () => {
    await Promise.all([...targets].map(([name, t]) => refresh(name, t.connection)));
    const out: TargetsHealth = {};
    for (const [name, t] of targets) {
      const h = t.connection.health();
      out[name] = { reachable: h.reachable, url: h.url ?? null, lastError: h.reachable ? null : (h.lastError ?? null) };
    }
    return out;
  };
}

/** Throws unless the database answers and holds exactly the committed migrations. */
async function checkDatabase(store: Store): Promise<void> {
  const { applied, committed: expected } = await store.migrations();
  if (applied !== expected) throw new Error(`database has ${applied} migrations applied, this build has ${expected}`);
}

export function observabilityRouter(o: {
  store: Store;
  metrics: Metrics;
  config: { metrics: boolean; metricsToken?: string | undefined };
  targetHealth?: (() => Promise<TargetsHealth>) | undefined;
  /** The external issuer's keys (auth.jwt): stale or unavailable keys make the service degraded. */
  jwks?: (() => JwksState) | undefined;
}): Router {
  const r = express.Router();
  r.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });

  r.get("/readyz", async (_req, res) => {
    res.setHeader("Cache-Control", "no-store");
    try {
      await checkDatabase(o.store);
    } catch (e) {
      res.status(503).json({ status: "not_ready", database: (e as Error).message });
      return;
    }
    const fault = o.store.health.fault();
    if (fault && !(await o.store.probeWritable())) {
      const now = o.store.health.fault() ?? fault;
      res.status(503).json({ status: "not_ready", database: now.reason, storage: { code: now.code, since: now.since, seenIn: now.where } });
      return;
    }
    const targets = (await o.targetHealth?.()) ?? {};
    const jwks = o.jwks?.();
    const degraded = Object.values(targets).some((t) => !t.reachable) || jwks?.state === "stale" || jwks?.state === "unavailable";
    res.json({ status: degraded ? "degraded" : "ready", database: "ok", targets, ...(jwks && { jwks }) });
  });

  if (o.config.metrics) {
    const token = o.config.metricsToken;
    r.get("/metrics", async (req, res) => {
      if (token !== undefined) {
        const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
        if (!m || !safeEqual(m[1]!, token)) {
          res.setHeader("WWW-Authenticate", 'Bearer realm="metrics"');
          res.status(401).type("text/plain").send("metrics need Authorization: Bearer <observability.metricsToken>\n");
          return;
        }
      }
      const { contentType, body } = await o.metrics.scrape();
      res.setHeader("Cache-Control", "no-store");
      res.type(contentType).send(body);
    });
  }
  return r;
}
