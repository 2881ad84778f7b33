/**
 * Sync status queries (issue 6), shared by the admin API and the `status`, `failures`, `retry` and
 * `resync` commands: both read and write the same SQLite file, so the CLI works whether or not the
 * server runs (a running worker picks up rows set pending on its next poll). No HTTP here.
 */
import type { LdapOp } from "../../hooks/planning/ops.js";
import type { Store } from "../../db/store.js";
import type { RetrySelection } from "../../db/sync-status.js";
import type { SyncStateRow, SyncStatus } from "../../db/sync.js";
import type { TargetConfig } from "../../hooks/rules/config.js";
import type { CompiledRule } from "../../hooks/rules/mapping.js";
import type { WrittenEntry } from "../../hooks/planning/planner.js";
import { previewUser, printableOp } from "../../hooks/delivery/preview.js";
import type { ResourceKind } from "../../schemas/registry.js";

export const STATES: readonly SyncStatus[] = ["in_sync", "pending", "retrying", "failed", "out_of_scope", "needs_password"];
/** States an operator has to act on (or wait for): `retry` takes these. */
const FAILING: SyncStatus[] = ["failed", "retrying"];
/**
 * The failure list adds entries that were added again without the password they had: only the
 * identity provider can fix those (a new password), so `retry` leaves them alone.
 */
const NEEDS_ATTENTION: SyncStatus[] = [...FAILING, "needs_password"];

export type StateCounts = Record<SyncStatus, number>;

export interface RuleRef {
  name: string;
  target: string;
}

export interface TargetStatus {
  name: string;
  counts: StateCounts;
  rules: { name: string; configured: boolean; counts: StateCounts }[];
}

const zero = (): StateCounts => ({ in_sync: 0, pending: 0, retrying: 0, failed: 0, out_of_scope: 0, needs_password: 0 });

/**
 * Counts by state per target and per rule. Configured targets and rules are listed even with no
 * rows (a new target shows zeros rather than vanishing); rows of rules no longer configured (being
 * deprovisioned) are listed too, flagged `configured: false`.
 */
export async function syncSummary(store: Pick<Store, "sync">, o: { rules: RuleRef[]; targets: string[] }): Promise<{ targets: TargetStatus[] }> {
  const byTarget = new Map<string, TargetStatus>();
  const targetOf = (name: string) => {
    let t = byTarget.get(name);
    if (!t) byTarget.set(name, (t = { name, counts: zero(), rules: [] }));
    return t;
  };
  const ruleOf = (target: string, rule: string, configured: boolean) => {
    const t = targetOf(target);
    let r = t.rules.find((x) => x.name === rule);
    if (!r) t.rules.push((r = { name: rule, configured, counts: zero() }));
    return r;
  };
  for (const t of o.targets) targetOf(t);
  for (const r of o.rules) ruleOf(r.target, r.name, true);
  const configured = new Set(o.rules.map((r) => r.name));
  for (const c of await store.sync.counts()) {
    const state = c.state as SyncStatus;
    if (!STATES.includes(state)) continue;
    const n = Number(c.n);
    targetOf(c.target).counts[state] += n;
    ruleOf(c.target, c.rule, configured.has(c.rule)).counts[state] += n;
  }
  return { targets: [...byTarget.values()] };
}

/** "User", "Users", "user", "Group"… → the resource kind; anything else undefined. */
export function kindOf(s: string): ResourceKind | undefined {
  const k = s.toLowerCase().replace(/s$/, "");
  return k === "user" ? "User" : k === "group" ? "Group" : undefined;
}

/** `User/<id>` (or `Users/<id>`, `Group/<id>`) as the CLI takes it. */
export function parseResourceRef(ref: string): { type: ResourceKind; id: string } | undefined {
  const slash = ref.indexOf("/");
  if (slash < 0) return undefined;
  const type = kindOf(ref.slice(0, slash));
  const id = ref.slice(slash + 1);
  return type && id ? { type, id } : undefined;
}

export function syncRows(store: Pick<Store, "syncStatus">, type: string, id: string): Promise<SyncStateRow[]> {
  return store.syncStatus.rowsOf(type, id);
}

export interface PublicRow {
  type: string;
  id: string;
  rule: string;
  target: string;
  /** null: a configured rule this resource was never fanned out to. */
  state: string | null;
  dn: string | null;
  directoryId: string | null;
  attempts: number;
  lastAttempt: string | null;
  nextAttempt: string | null;
  lastCode: number | null;
  lastError: string | null;
  passwordPending: boolean;
  /**
   * While a worker (of any replica) holds the row for delivery: until when its lease runs
   * (hooks/delivery/scheduler.ts); null otherwise.
   */
  leasedUntil: string | null;
}

/** One row as the API and CLI show it: never the sealed secret nor the written JSON. */
export function publicRow(r: SyncStateRow): PublicRow {
  return {
    type: r.resourceType,
    id: r.resourceId,
    rule: r.rule,
    target: r.target,
    state: r.state,
    dn: r.dn,
    directoryId: r.directoryId,
    attempts: r.attempts,
    lastAttempt: r.lastAttempt,
    nextAttempt: r.nextAttempt,
    lastCode: r.lastCode,
    lastError: r.lastError,
    passwordPending: r.secret !== null,
    leasedUntil: r.leaseUntil,
  };
}

export interface ResourceRuleStatus extends PublicRow {
  configured: boolean;
  /**
   * What the next delivery would send (previewUser: the worker's own decision, values redacted);
   * null when nothing waits (in_sync, out_of_scope) or the kind has no rules to plan with.
   */
  planned: { event: string; dn?: string | undefined; ops: Record<string, unknown>[]; error?: string | undefined } | null;
}

/**
 * Per rule (and so per target) the delivery state of one resource, plus the planned operations
 * where a change is waiting. A configured rule the resource was never fanned out to appears with
 * state null (its change is still in the outbox, or the resource predates the rule).
 */
export async function resourceStatus(o: {
  store: Pick<Store, "syncStatus">;
  rules: CompiledRule[];
  targets: Pick<TargetConfig, "name" | "urls" | "startTls">[];
  type: ResourceKind;
  id: string;
  /** The resource in wire shape, or undefined when it does not exist (any more). */
  resource: Record<string, unknown> | undefined;
  /** Names of the configured group rules (a group's rows are listed per rule). */
  groupRules?: { name: string; target: string }[];
  /** The worker's read-only plan for (group, rule); absent: groups are listed without a plan. */
  previewGroup?: ((id: string, rule: string) => Promise<{ event: string; dn?: string | undefined; ops: LdapOp[]; error?: string | undefined }>) | undefined;
}): Promise<{ type: ResourceKind; id: string; exists: boolean; rules: ResourceRuleStatus[] } | undefined> {
  const rows = await syncRows(o.store, o.type, o.id);
  if (!o.resource && !rows.length) return undefined;
  // Users are planned here (previewUser); groups by the worker (previewGroup), which resolves the
  // member DNs of the pending pairs the same way a delivery does.
  const rules = o.type === "User" ? o.rules : [];
  const previews = await previewUser({
    rules,
    targets: o.targets,
    user: o.resource,
    stateOf: (rule) => {
      const row = rows.find((r) => r.rule === rule);
      return row ? { state: row.state, written: row.written ? (JSON.parse(row.written) as WrittenEntry) : undefined, passwordPending: row.secret !== null } : undefined;
    },
  });
  const out: ResourceRuleStatus[] = [];
  for (const rule of rules) {
    const row = rows.find((r) => r.rule === rule.name);
    const p = previews.find((x) => x.rule === rule.name)!;
    const settled = row?.state === "in_sync" || row?.state === "out_of_scope";
    const planned = settled ? null : { event: p.event, dn: p.dn, ops: p.ops.map(printableOp), error: p.error };
    const base: PublicRow = row
      ? publicRow(row)
      : { type: o.type, id: o.id, rule: rule.name, target: rule.target, state: null, dn: null, directoryId: null, attempts: 0, lastAttempt: null, nextAttempt: null, lastCode: null, lastError: null, passwordPending: false, leasedUntil: null };
    out.push({ ...base, configured: true, planned });
  }
  const groupRules = o.type === "Group" ? (o.groupRules ?? []) : [];
  for (const rule of groupRules) {
    const row = rows.find((r) => r.rule === rule.name);
    const settled = row?.state === "in_sync" || row?.state === "out_of_scope";
    const p = settled || !o.previewGroup ? undefined : await o.previewGroup(o.id, rule.name);
    const base: PublicRow = row
      ? publicRow(row)
      : { type: o.type, id: o.id, rule: rule.name, target: rule.target, state: null, dn: null, directoryId: null, attempts: 0, lastAttempt: null, nextAttempt: null, lastCode: null, lastError: null, passwordPending: false, leasedUntil: null };
    out.push({ ...base, configured: true, planned: p ? { event: p.event, dn: p.dn, ops: p.ops.map(printableOp), error: p.error } : null });
  }
  for (const row of rows) {
    if (!rules.some((r) => r.name === row.rule) && !groupRules.some((g) => g.name === row.rule)) out.push({ ...publicRow(row), configured: false, planned: null });
  }
  return { type: o.type, id: o.id, exists: o.resource !== undefined, rules: out };
}

export interface FailureQuery {
  target?: string | undefined;
  rule?: string | undefined;
  code?: number | undefined;
  /** 1-based, as SCIM lists are. */
  startIndex: number;
  count: number;
}

/** Failed and retrying rows (and those needing a password), newest attempt first, in stable pages. */
export async function listFailures(store: Pick<Store, "syncStatus">, q: FailureQuery) {
  const page = await store.syncStatus.failures({ states: NEEDS_ATTENTION, target: q.target, rule: q.rule, code: q.code }, { offset: q.startIndex - 1, limit: q.count });
  return { totalResults: page.total, startIndex: q.startIndex, itemsPerPage: page.rows.length, failures: page.rows.map(publicRow) };
}

export type { RetrySelection };

/**
 * Failed and retrying rows back to pending with a fresh attempt budget; returns how many. The
 * worker takes pending rows on its next pump (woken by the caller, else by its poll timer).
 */
export function retryFailed(store: Pick<Store, "transaction">, sel: RetrySelection, at: string): Promise<number> {
  return store.transaction((tx) => tx.syncStatus.retry(FAILING, sel, at));
}

/**
 * Queues a full resync of one resource as a new outbox change (op "resync"): the worker fans it
 * out to every rule as pending with a new wanted seq, exactly as after a SCIM write, so it also
 * re-runs after a delivery already in flight and converges the entry to the resource's current
 * state. Nothing is written to LDAP here. Returns the change's seq, or undefined when the
 * resource neither exists nor has sync state (nothing to resync).
 */
export function requestResync(store: Pick<Store, "repairs">, type: ResourceKind, id: string, at: string, client: string): Promise<number | undefined> {
  return store.repairs.queueResync(type, id, at, client);
}
