/**
 * `scimbridge reconcile` and the periodic reconcile of `serve` (provisioning.reconcileEveryMinutes):
 * wiring of hooks/reconcile/reconcile.ts to the config, the store and the targets. Repairs are queued in
 * the outbox; the worker of a running server (or of the next `serve`) delivers them.
 *
 * Exit codes of the command, for scripts: 0 no drift, 3 drift found (dry run) or repairs queued,
 * 1 a rule or target failed, 2 usage (an unknown target, --delete-unmanaged refused).
 */
import { existsSync } from "node:fs";
import type { Store } from "../db/store.js";
import { openConfiguredStore } from "./store.js";
import { resourceReader as storeReader } from "../db/read-resource.js";
import type { TargetConfig } from "../hooks/rules/config.js";
import type { LdapTarget } from "../hooks/delivery/index.js";
import { hasDrift, reconcile, summarize, type AttributeDrift, type ReconcileProgress, type ReconcileReport } from "../hooks/reconcile/reconcile.js";
import { SchemaRegistry } from "../schemas/registry.js";
import type { Config } from "./config/schema.js";
import type { Logger } from "./logger.js";
import { progressFor, reconcileProgress } from "./progress.js";
import { compileGroupRules, compileRules, connectTargets, embeddedConfigForClients } from "./provisioning.js";
import { reconcileGroups, type GroupReconcileReport } from "../hooks/reconcile/reconcile-groups.js";

type Targets = Map<string, { config: TargetConfig; connection: LdapTarget }>;

export async function reconcileWith(o: {
  config: Config;
  store: Store;
  /** The server's schema registry, when there is one; otherwise one is built from the config. */
  app?: { registry: SchemaRegistry } | undefined;
  targets: Targets;
  dryRun: boolean;
  /** Also delete entries under a rule's base that the rule did not write (never the periodic run). */
  deleteUnmanaged?: boolean;
  /** Only the rules of this target. */
  target?: string | undefined;
  onProgress?: (p: ReconcileProgress) => void;
}): Promise<ReconcileReport[]> {
  const registry = o.app?.registry ?? new SchemaRegistry(o.config.scim.extensions);
  const allUsers = compileRules(o.config, registry);
  const allGroups = compileGroupRules(o.config, registry);
  const wanted = (r: { target: string }) => o.target === undefined || r.target === o.target;
  // Straight from the store, as the worker reads them: no HTTP service needed.
  const readResource = storeReader(o.store, registry);
  const users = await reconcile({ store: o.store, registry, rules: allUsers.filter(wanted), targets: o.targets, readResource, dryRun: o.dryRun, deleteUnmanaged: o.deleteUnmanaged, onProgress: o.onProgress });
  // Groups after users: a group's expected members are the entries the user rules hold.
  const groups = await reconcileGroups({
    store: o.store,
    rules: allGroups.filter(wanted),
    memberRules: (target) => ({ users: allUsers.filter((r) => r.target === target).map((r) => r.name), groups: allGroups.filter((r) => r.target === target).map((r) => r.name) }),
    targets: o.targets,
    readResource,
    dryRun: o.dryRun,
    deleteUnmanaged: o.deleteUnmanaged,
    onProgress: o.onProgress,
  });
  return [...users, ...groups];
}

const DRIFT_LINES = 20;

export interface ReconcileArgs {
  json: boolean;
  dryRun: boolean;
  target?: string | undefined;
  /** Also delete entries no rule of this run wrote (an explicit opt-in). */
  deleteUnmanaged?: boolean;
  /** Confirms --delete-unmanaged on a terminal. */
  yes?: boolean;
}

/** Exit codes (see the module comment). */
export const RECONCILE_EXIT = { clean: 0, failed: 1, usage: 2, drift: 3 } as const;

/** `scimbridge reconcile [--target T] [--dry-run] [--delete-unmanaged [--yes]] [--json]`. */
export async function reconcileCommand(
  given: Config,
  a: ReconcileArgs,
  out: (line: string) => void,
  /** Whether stdin is a terminal (injectable for tests; default process.stdin). */
  io: { stdinIsTTY?: boolean } = {},
): Promise<number> {
  const deleteUnmanaged = a.deleteUnmanaged === true;
  if (deleteUnmanaged && !a.dryRun && !a.yes && (io.stdinIsTTY ?? process.stdin.isTTY === true)) {
    process.stderr.write(
      "refusing --delete-unmanaged without --yes: it deletes entries under the rules' bases that scimbridge did not write (service accounts, hand-made entries, another rule's entries).\n" +
        "See them first with `scimbridge reconcile --dry-run` (listed as unmanaged), then run again with --delete-unmanaged --yes.\n",
    );
    return RECONCILE_EXIT.usage;
  }
  // Only a SQLite file can be missing here; with storage.url the file setting is an unused
  // default, and opening the PostgreSQL database says what is wrong with it.
  if (given.storage.url === undefined && !existsSync(given.storage.file)) {
    process.stderr.write(`no database at ${given.storage.file}\n`);
    return RECONCILE_EXIT.failed;
  }
  // The embedded directory's rules too, bound as `serve` binds them; its slapd must be running
  // (it is while `serve` runs).
  const embedded = given.embeddedDirectory.enabled ? embeddedConfigForClients(given) : undefined;
  if (given.embeddedDirectory.enabled && !embedded) {
    process.stderr.write(`the embedded directory has not been started yet (no root password under ${given.embeddedDirectory.dir}/..): run \`scimbridge serve\` first\n`);
    return RECONCILE_EXIT.failed;
  }
  const config = embedded ?? given;
  if (a.target !== undefined && !config.targets.some((t) => t.name === a.target)) {
    process.stderr.write(`no target named ${a.target}\n`);
    return RECONCILE_EXIT.usage;
  }
  const store = await openConfiguredStore(config);
  const targets = connectTargets(config.targets.filter((t) => a.target === undefined || t.name === a.target));
  // On a terminal only, and never with --json (server/progress.ts).
  const progress = progressFor(process.stderr, a.json);
  try {
    const reports = await reconcileWith({
      config,
      store,
      targets,
      dryRun: a.dryRun,
      deleteUnmanaged,
      target: a.target,
      onProgress: progress && reconcileProgress(progress),
    });
    progress?.done();
    const failed = reports.some((r) => r.error !== undefined);
    const drift = reports.some((r) => hasDrift(r, deleteUnmanaged));
    if (a.json) out(JSON.stringify({ dryRun: a.dryRun, deleteUnmanaged, drift, rules: reports }));
    else printReports(reports, { dryRun: a.dryRun, deleteUnmanaged, drift }, out);
    return failed ? RECONCILE_EXIT.failed : drift ? RECONCILE_EXIT.drift : RECONCILE_EXIT.clean;
  } finally {
    progress?.done(); // a failed run leaves no half-drawn line behind its error
    await Promise.allSettled([...targets.values()].map((t) => t.connection.close()));
    await store.close();
  }
}

function describeDrift(x: AttributeDrift): string {
  if (x.account) return `account ${x.actual.join("")} → ${x.expected.join("")} (${x.name})`;
  return `${x.name} ${JSON.stringify(x.actual)} → ${JSON.stringify(x.expected)}`;
}

function printReports(reports: ReconcileReport[], run: { dryRun: boolean; deleteUnmanaged: boolean; drift: boolean }, out: (line: string) => void): void {
  if (!reports.length) out("no rules configured");
  for (const r of reports) {
    out(summarize(r));
    const kind = "members" in r ? "Group" : "User";
    const lines = [
      ...r.missing.map((m) => `  missing   ${m.dn} (${kind}/${m.id})`),
      ...r.differing.map((d) => `  differing ${d.dn} (${kind}/${d.id}): ${d.attributes.map(describeDrift).join(", ")}`),
      ...("members" in r ? (r as GroupReconcileReport).members : []).map(
        (m) => `  members   ${m.dn} (Group/${m.id}): ${m.missingCount} missing${m.missing.length ? ` (${m.missing.slice(0, 3).join("; ")}${m.missingCount > 3 ? "; …" : ""})` : ""}, ${m.extraCount} extra${m.extra.length ? ` (${m.extra.slice(0, 3).join("; ")}${m.extraCount > 3 ? "; …" : ""})` : ""}`,
      ),
      ...r.extra.map((x) =>
        x.provenance === "correlation"
          ? `  extra     ${x.dn} (written for ${x.resourceType}/${x.resourceId}; its deliveries decide)`
          : `  extra     ${x.dn} (left by ${x.resourceType}/${x.resourceId}${x.blocked ? `; not repaired: ${x.blocked}` : x.queued ? "; deprovision queued" : "; repair deprovisions it"})`,
      ),
      ...r.unmanaged.map((x) => `  unmanaged ${x.dn}${x.owner ? ` (written by rule ${x.owner})` : ""}${x.queued ? " (delete queued)" : ""}`),
      ...r.unmappable.map((u) => `  unmappable ${kind}/${u.id}: ${u.error}`),
    ];
    for (const l of lines.slice(0, DRIFT_LINES)) out(l);
    if (lines.length > DRIFT_LINES) out(`  … ${lines.length - DRIFT_LINES} more (--json lists all)`);
  }
  const unmanaged = reports.reduce((n, r) => n + r.unmanaged.length, 0);
  if (unmanaged && !run.deleteUnmanaged) out(`${unmanaged} unmanaged ${unmanaged === 1 ? "entry" : "entries"} left alone (scimbridge did not write them; --delete-unmanaged deletes them)`);
  if (run.dryRun) out("dry run: nothing changed");
  else if (run.drift) out("repairs queued in the outbox; a running server's worker (or the next `scimbridge serve`) delivers them");
}

/**
 * Runs a repairing reconcile every `minutes` on the server's own connections (unref'd timer; a run
 * still going when the next is due is not overlapped, that tick is skipped). Returns a stop function.
 */
export function startPeriodicReconcile(o: { config: Config; store: Store; app?: { registry: SchemaRegistry } | undefined; targets: Targets; logger: Logger; minutes: number; wake?: () => void }): () => Promise<void> {
  let running: Promise<void> | undefined;
  /** One replica reconciles per round (Store.singleton); the others skip it. */
  const claimed = async <T>(run: () => Promise<T>): Promise<T | undefined> => {
    const claim = await o.store.singleton("reconcile");
    if (!claim) return undefined;
    try {
      return await run();
    } finally {
      await claim.release();
    }
  };
  const tick = () => {
    if (running) return;
    // Never deletes unmanaged entries: that takes an operator's explicit `--delete-unmanaged`.
    running = claimed(() => reconcileWith({ config: o.config, store: o.store, app: o.app, targets: o.targets, dryRun: false, deleteUnmanaged: false }))
      .then((reports = []) => {
        for (const r of reports) {
          o.logger.info({ rule: r.rule, missing: r.missing.length, extra: r.extra.length, unmanaged: r.unmanaged.length, differing: r.differing.length, repaired: r.repaired, error: r.error }, summarize(r));
        }
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
