/**
 * `scimbridge reconcile` and the periodic reconcile of `serve` (provisioning.reconcileEveryMinutes):
 * wiring of hooks/reconcile.ts to the config, the store and the targets. Repairs are queued in
 * the outbox; the worker of a running server (or of the next `serve`) delivers them.
 */
import { existsSync } from "node:fs";
import { openStore, type Store } from "../db/open.js";
import type { TargetConfig } from "../hooks/config.js";
import type { LdapTarget } from "../hooks/ldap/connection.js";
import { reconcile, summarize, type ReconcileProgress, type ReconcileReport } from "../hooks/reconcile.js";
import { ScimError } from "../schemas/errors.js";
import type { ResourceKind } from "../schemas/registry.js";
import { createApp, type App } from "./app.js";
import type { Config } from "./config/schema.js";
import { createLogger, type Logger } from "./logger.js";
import { progressFor, reconcileProgress } from "./progress.js";
import { compileGroupRules, compileRules, connectTargets, embeddedRuleConfig } from "./provisioning.js";
import { reconcileGroups, type GroupReconcileReport } from "../hooks/reconcile-groups.js";

type Targets = Map<string, { config: TargetConfig; connection: LdapTarget }>;

/** Reads a resource in wire shape through the SCIM service (with `groups`), as the worker does. */
export function resourceReader(app: Pick<App, "service">): (kind: ResourceKind, id: string, opts?: { members?: boolean }) => Record<string, unknown> | undefined {
  return (kind, id, opts = {}) => {
    try {
      return app.service.get(kind, id, { baseUrl: "" }, opts.members === false ? { excludedAttributes: ["members"] } : {}).resource;
    } catch (e) {
      if (e instanceof ScimError && e.status === 404) return undefined;
      throw e;
    }
  };
}

export async function reconcileWith(o: {
  config: Config;
  store: Store;
  app: Pick<App, "service" | "registry">;
  targets: Targets;
  dryRun: boolean;
  /** Only the rules of this target. */
  target?: string | undefined;
  onProgress?: (p: ReconcileProgress) => void;
}): Promise<ReconcileReport[]> {
  const allUsers = compileRules(o.config, o.app.registry);
  const allGroups = compileGroupRules(o.config, o.app.registry);
  const wanted = (r: { target: string }) => o.target === undefined || r.target === o.target;
  const readResource = resourceReader(o.app);
  const users = await reconcile({ store: o.store, registry: o.app.registry, rules: allUsers.filter(wanted), targets: o.targets, readResource, dryRun: o.dryRun, onProgress: o.onProgress });
  // Groups after users: a group's expected members are the entries the user rules hold.
  const groups = await reconcileGroups({
    store: o.store,
    rules: allGroups.filter(wanted),
    memberRules: (target) => ({ users: allUsers.filter((r) => r.target === target).map((r) => r.name), groups: allGroups.filter((r) => r.target === target).map((r) => r.name) }),
    targets: o.targets,
    readResource,
    dryRun: o.dryRun,
    onProgress: o.onProgress,
  });
  return [...users, ...groups];
}

const DRIFT_LINES = 20;

/** `scimbridge reconcile [--target T] [--dry-run] [--json]`. */
export async function reconcileCommand(given: Config, a: { json: boolean; dryRun: boolean; target?: string | undefined }, out: (line: string) => void): Promise<number> {
  if (!existsSync(given.storage.file)) {
    process.stderr.write(`no database at ${given.storage.file}\n`);
    return 1;
  }
  // The embedded directory's rule too; its slapd must be running (it is while `serve` runs).
  const e = given.embeddedDirectory;
  const config = e.enabled ? embeddedRuleConfig(given, `ldap://127.0.0.1:${e.port}`) : given;
  if (a.target !== undefined && !config.targets.some((t) => t.name === a.target)) {
    process.stderr.write(`no target named ${a.target}\n`);
    return 2;
  }
  const store = openStore(config.storage.file);
  const targets = connectTargets(config.targets.filter((t) => a.target === undefined || t.name === a.target));
  // On a terminal only, and never with --json (server/progress.ts).
  const progress = progressFor(process.stderr, a.json);
  try {
    const app = createApp({ config, store, logger: createLogger("silent") });
    const reports = await reconcileWith({
      config,
      store,
      app,
      targets,
      dryRun: a.dryRun,
      target: a.target,
      onProgress: progress && reconcileProgress(progress),
    });
    progress?.done();
    if (a.json) out(JSON.stringify({ dryRun: a.dryRun, rules: reports }));
    else {
      if (!reports.length) out("no rules configured");
      for (const r of reports) {
        out(summarize(r));
        const kind = "members" in r ? "Group" : "User";
        const lines = [
          ...r.missing.map((m) => `  missing   ${m.dn} (${kind}/${m.id})`),
          ...r.differing.map((d) => `  differing ${d.dn} (${kind}/${d.id}): ${d.attributes.map((x) => `${x.name} ${JSON.stringify(x.actual)} → ${JSON.stringify(x.expected)}`).join(", ")}`),
          ...("members" in r ? (r as GroupReconcileReport).members : []).map(
            (m) => `  members   ${m.dn} (Group/${m.id}): ${m.missingCount} missing${m.missing.length ? ` (${m.missing.slice(0, 3).join("; ")}${m.missingCount > 3 ? "; …" : ""})` : ""}, ${m.extraCount} extra${m.extra.length ? ` (${m.extra.slice(0, 3).join("; ")}${m.extraCount > 3 ? "; …" : ""})` : ""}`,
          ),
          ...r.extra.map((x) => `  extra     ${x.dn}${x.resourceId ? ` (written for ${kind}/${x.resourceId})` : ""}${x.deleted ? " (deleted)" : ""}`),
          ...r.unmappable.map((u) => `  unmappable ${kind}/${u.id}: ${u.error}`),
        ];
        for (const l of lines.slice(0, DRIFT_LINES)) out(l);
        if (lines.length > DRIFT_LINES) out(`  … ${lines.length - DRIFT_LINES} more (--json lists all)`);
      }
      const queued = reports.some((r) => r.missing.length + r.differing.length + ("members" in r ? (r as GroupReconcileReport).members.length : 0) > 0);
      if (a.dryRun) out("dry run: nothing changed");
      else if (queued) out("repairs queued in the outbox; a running server's worker (or the next `scimbridge serve`) delivers them");
    }
    return 0;
  } finally {
    progress?.done(); // a failed run leaves no half-drawn line behind its error
    await Promise.allSettled([...targets.values()].map((t) => t.connection.close()));
    store.close();
  }
}

/**
 * Runs a repairing reconcile every `minutes` on the server's own connections (unref'd timer; a run
 * still going when the next is due is not overlapped, that tick is skipped). Returns a stop function.
 */
export function startPeriodicReconcile(o: { config: Config; store: Store; app: Pick<App, "service" | "registry">; targets: Targets; logger: Logger; minutes: number; wake?: () => void }): () => Promise<void> {
  let running: Promise<void> | undefined;
  const tick = () => {
    if (running) return;
    running = reconcileWith({ config: o.config, store: o.store, app: o.app, targets: o.targets, dryRun: false })
      .then((reports) => {
        for (const r of reports) o.logger.info({ rule: r.rule, missing: r.missing.length, extra: r.extra.length, differing: r.differing.length, repaired: r.repaired, error: r.error }, summarize(r));
        o.wake?.();
      })
      .catch((e: unknown) => o.logger.error({ err: e }, "periodic reconcile failed"))
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(tick, o.minutes * 60_000);
  timer.unref();
  // Stopping waits for a run in progress: it writes repairs to the store, which closes next.
  return async () => {
    clearInterval(timer);
    await running;
  };
}
