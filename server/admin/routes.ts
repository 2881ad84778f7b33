/**
 * The admin API (issue 6) under /admin/api, outside the SCIM base path: JSON over the queries in
 * ./status.ts. Its own bearer tokens (config `admin.tokens`): a SCIM client's credential must not
 * let it retry or resync deliveries, nor read other resources' LDAP errors.
 */
import type { LdapOp } from "../../hooks/planning/ops.js";
import express, { type Request, type RequestHandler, type Response, type Router } from "express";
import type { Store } from "../../db/store.js";
import type { TargetConfig } from "../../hooks/rules/config.js";
import type { CompiledRule } from "../../hooks/rules/mapping.js";
import { isTargetSecure } from "../../hooks/rules/config.js";
import type { ReconcileReport } from "../../hooks/reconcile/reconcile.js";
import { ScimError } from "../../schemas/errors.js";
import { parseAuthorization, safeEqual } from "../auth/middleware.js";
import { callerOf, type FailureThrottle } from "../auth/throttle.js";
import type { JwksState } from "../auth/jwks.js";
import type { Config } from "../config/schema.js";
import type { TargetsHealth } from "../observability/health.js";
import type { ResourceService } from "../scim/service.js";
import type { AuditLog } from "../observability/audit.js";
import { activity, MAX_ACTIVITY_HOURS } from "./activity.js";
import { kindOf, listFailures, requestResync, resourceStatus, retryFailed, syncSummary, type RetrySelection } from "./status.js";

export interface AdminDeps {
  /** Asks the delivery worker for a pump now; without it the worker's poll timer picks rows up. */
  wake?: () => void;
  /** The compiled rules the worker delivers with (lazy: the worker is built after the app). */
  rules: () => CompiledRule[];
  /** The configured group rules (name and target), for the status counts and group details. */
  groupRules?: () => { name: string; target: string }[];
  /** The worker's read-only plan for (group, group rule) (resource detail). */
  previewGroup?: (id: string, rule: string) => Promise<{ event: string; dn?: string | undefined; ops: LdapOp[]; error?: string | undefined }>;
  targets: TargetConfig[];
  /** A dry-run reconcile on the worker's connections (the page's button); absent: 501. */
  reconcile?: (o: { target?: string | undefined }) => Promise<ReconcileReport[]>;
}

const MAX_PAGE = 1000;

class AdminError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function fail(res: Response, status: number, detail: string): void {
  res.status(status).json({ error: { status, detail } });
}

/**
 * Bearer token against every configured admin token (all compared: timing tells nothing). Failures
 * spend the caller's budget (../auth/throttle.ts): 429 with Retry-After once it is used up.
 */
export function adminAuth(tokens: Config["admin"]["tokens"], throttle?: FailureThrottle): RequestHandler {
  return (req, res, next) => {
    const caller = callerOf(req);
    const wait = throttle?.retryAfter(caller) ?? 0;
    if (wait > 0) {
      res.setHeader("Retry-After", String(wait));
      fail(res, 429, `too many failed authentication attempts; retry in ${wait} s`);
      return;
    }
    const auth = parseAuthorization(req.headers.authorization);
    let name: string | undefined;
    if (auth?.scheme === "bearer") {
      for (const t of tokens) if (safeEqual(t.token, auth.credentials) && name === undefined) name = t.name;
    }
    if (name === undefined) {
      if (auth) throttle?.fail(caller, "/admin", "invalid admin token");
      res.setHeader("WWW-Authenticate", 'Bearer realm="scimbridge-admin"');
      fail(res, 401, auth ? "invalid admin credentials" : "authentication required: send Authorization: Bearer <admin token>");
      return;
    }
    res.locals.admin = name;
    next();
  };
}

function intParam(req: Request, name: string, dflt: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = req.query[name];
  if (raw === undefined || raw === "") return dflt;
  const n = typeof raw === "string" && /^-?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new AdminError(400, `${name} must be an integer ≥ ${min}`);
  return Math.min(n, max);
}

function strParam(req: Request, name: string): string | undefined {
  const raw = req.query[name];
  if (raw === undefined || raw === "") return undefined;
  if (typeof raw !== "string") throw new AdminError(400, `${name} must be given once`);
  return raw;
}

/** `{ type, id }` from a JSON body, the type as "User"/"Users"/"Group"/"Groups". */
function resourceOf(body: unknown): { type: "User" | "Group"; id: string } {
  const b = (body ?? {}) as Record<string, unknown>;
  const type = typeof b.type === "string" ? kindOf(b.type) : undefined;
  if (!type || typeof b.id !== "string" || !b.id) throw new AdminError(400, 'expected { "type": "User" | "Group", "id": "<id>" }');
  return { type, id: b.id };
}

/** Drift lists cut to this many entries each in the API's answer (the counts stay whole). */
const RECONCILE_LIST_CAP = 100;

function capReport(r: ReconcileReport) {
  const cap = <T>(xs: T[]) => xs.slice(0, RECONCILE_LIST_CAP);
  return {
    ...r,
    counts: { missing: r.missing.length, extra: r.extra.length, unmanaged: r.unmanaged.length, differing: r.differing.length, unmappable: r.unmappable.length },
    missing: cap(r.missing),
    extra: cap(r.extra),
    unmanaged: cap(r.unmanaged),
    differing: cap(r.differing),
    unmappable: cap(r.unmappable),
  };
}

export function adminRouter(o: {
  config: Config;
  store: Store;
  service: ResourceService;
  /** Flushed before the activity counts are read (it batches its rows per event-loop turn). */
  audit?: AuditLog | undefined;
  deps: AdminDeps;
  targetHealth?: (() => Promise<TargetsHealth>) | undefined;
  now?: (() => Date) | undefined;
  throttle?: FailureThrottle | undefined;
  /** The external issuer's key state (auth.jwt), shown on the page; undefined without one. */
  jwks?: (() => JwksState) | undefined;
}): Router {
  const { store } = o;
  const clock = () => o.now?.() ?? new Date();
  const now = () => clock().toISOString();
  let reconciling = false;
  const r = express.Router();
  r.use(adminAuth(o.config.admin.tokens, o.throttle));

  // How the SCIM API authenticates right now: the external JWKS's state (null without auth.jwt).
  r.get("/auth", (_req, res) => {
    res.json({ jwks: o.jwks?.() ?? null });
  });

  r.get("/status", async (_req, res) => {
    const rules = [...o.deps.rules(), ...(o.deps.groupRules?.() ?? [])].map((x) => ({ name: x.name, target: x.target }));
    res.json(await syncSummary(store, { rules, targets: o.deps.targets.map((t) => t.name) }));
  });

  // The targets as configured (never the bind credentials) with the worker's reachability view,
  // the same as /readyz reports; health is null where provisioning is not wired in.
  r.get("/targets", async (_req, res) => {
    const health = (await o.targetHealth?.()) ?? {};
    res.json({
      targets: o.deps.targets.map((t) => ({ name: t.name, directory: t.directory, urls: t.urls, secure: isTargetSecure(t), health: health[t.name] ?? null })),
    });
  });

  r.get("/activity", async (req, res) => {
    await o.audit?.flush();
    res.json(await activity(store, { hours: intParam(req, "hours", 24, 1, MAX_ACTIVITY_HOURS), now: clock() }));
  });

  // Dry run only: a repair from a browser button is one click too easy; `scimbridge reconcile` does
  // it. One run at a time (a run pages through every user and the whole directory subtree).
  r.post("/reconcile", async (req, res) => {
    const target = (req.body as { target?: unknown } | undefined)?.target;
    if (target !== undefined && (typeof target !== "string" || !o.deps.targets.some((t) => t.name === target))) throw new AdminError(400, "target must name a configured target");
    if (!o.deps.reconcile) throw new AdminError(501, "reconcile needs the delivery worker's connections (run under scimbridge serve)");
    if (reconciling) throw new AdminError(409, "a reconcile is already running");
    // Across replicas too: the periodic reconcile and the admin's share one claim.
    const claim = await store.singleton("reconcile");
    if (!claim) throw new AdminError(409, "a reconcile is already running on another replica");
    reconciling = true;
    try {
      const reports = await o.deps.reconcile({ target });
      res.json({ dryRun: true, rules: reports.map(capReport) });
    } finally {
      reconciling = false;
      await claim.release();
    }
  });

  r.get("/resources/:type/:id", async (req, res) => {
    const type = kindOf(String(req.params.type));
    if (!type) throw new AdminError(404, `no resource type ${String(req.params.type)}`);
    const id = String(req.params.id);
    let resource: Record<string, unknown> | undefined;
    try {
      resource = (await o.service.get(type, id, { baseUrl: "" })).resource;
    } catch (e) {
      if (!(e instanceof ScimError && e.status === 404)) throw e;
    }
    const status = await resourceStatus({ store, rules: o.deps.rules(), groupRules: o.deps.groupRules?.() ?? [], previewGroup: o.deps.previewGroup, targets: o.deps.targets, type, id, resource });
    if (!status) throw new AdminError(404, `no ${type} ${id} and no delivery state for it`);
    // The SCIM resource as a client would read it (never a password: SCIM returns none).
    res.json({ ...status, resource: resource ?? null });
  });

  r.get("/failures", async (req, res) => {
    const code = strParam(req, "code");
    if (code !== undefined && !/^\d+$/.test(code)) throw new AdminError(400, "code must be an LDAP result code (integer)");
    res.json(
      await listFailures(store, {
        target: strParam(req, "target"),
        rule: strParam(req, "rule"),
        code: code === undefined ? undefined : Number(code),
        startIndex: intParam(req, "startIndex", 1, 1),
        count: intParam(req, "count", 100, 0, MAX_PAGE),
      }),
    );
  });

  r.post("/retry", async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const sel: RetrySelection = body.all === true ? { all: true } : resourceOf(body);
    const retried = await retryFailed(store, sel, now());
    if (retried) o.deps.wake?.();
    res.json({ retried });
  });

  r.post("/resync", async (req, res) => {
    const { type, id } = resourceOf(req.body);
    const seq = await requestResync(store, type, id, now(), `admin:${String(res.locals.admin)}`);
    if (seq === undefined) throw new AdminError(404, `no ${type} ${id} and no delivery state for it`);
    o.deps.wake?.();
    res.status(202).json({ type, id, change: seq });
  });

  r.use((req, res) => fail(res, 404, `no admin endpoint at ${req.method} ${req.path}`));
  // Admin errors as JSON here; anything else goes on to the app's error boundary (logged, 500).
  r.use(((err, _req, res, next) => {
    if (err instanceof AdminError) fail(res, err.status, err.message);
    else next(err);
  }) as express.ErrorRequestHandler);
  return r;
}
