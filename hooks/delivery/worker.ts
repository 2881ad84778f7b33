/**
 * The delivery worker (design.md decisions 2 and 3). It fans committed outbox rows out into
 * per-(resource, rule) sync state, then converges each due entry to the resource's current state:
 * map → plan (pure) → execute (idempotent). One delivery per (resource, rule) at a time keeps
 * order per resource; many resources run in parallel up to each target's concurrency. Transient
 * failures retry with exponential backoff and jitter, forever; permanent ones are recorded with
 * the LDAP result code and, after `maxAttempts`, parked as failed until the next change.
 */
import type { Logger } from "pino";
import type { Store } from "../../db/open.js";
import { MemberSyncQueries } from "../../db/member-sync.js";
import { outboxBatch, SyncQueries, type OutboxBatch, type OutboxEntry, type SyncStateRow } from "../../db/sync.js";
import type { ResourceKind } from "../../schemas/registry.js";
import type { TargetConfig } from "../rules/config.js";
import type { LdapTarget } from "../ldap/connection.js";
import { LdapDeliveryError } from "../ldap/executor.js";
import { describeOp, type LdapOp } from "../planning/ops.js";
import type { CompiledRule } from "../rules/mapping.js";
import type { WrittenEntry } from "../planning/planner.js";
import { sealSecret } from "./secrets.js";
import { storageHealthOf } from "../../db/storage-faults.js";
import { dnKey } from "../ldap/dn.js";
import type { DeliverableGroupRule } from "../rules/group-rule.js";
import type { WrittenGroup } from "../planning/group-planner.js";
import { GroupDelivery, type WorkerServices } from "./group-delivery.js";
import { UserDelivery } from "./user-delivery.js";
import { EntryDelivery } from "./entry-delivery.js";
import { ENTRY_KIND, tombstoneIfLeftInPlace } from "./entry-ownership.js";

export interface WorkerOptions {
  store: Store;
  logger: Logger;
  rules: CompiledRule[];
  /**
   * Rules that were configured before and are not any more (from known_rules), compiled from
   * their last-seen config: their entries are deprovisioned per their `onRuleRemoved` action.
   */
  removedRules?: CompiledRule[];
  /** Group rules (issue 5): groups and their memberships. */
  groupRules?: DeliverableGroupRule[];
  /** Group rules removed from config, compiled from their last-seen config (see removedRules). */
  removedGroupRules?: DeliverableGroupRule[];
  targets: Map<string, { config: TargetConfig; connection: LdapTarget }>;
  /**
   * Reads a resource in wire shape (a User with `groups`), or undefined when it no longer exists.
   * `members: false` leaves a Group's members out (a 100,000-member group is never loaded for
   * nothing: membership is delivered from deltas).
   */
  readResource: (kind: ResourceKind, id: string, opts?: { members?: boolean }) => Record<string, unknown> | undefined;
  /** AES-256-GCM key that seals SCIM passwords until delivered. */
  secretKey: Buffer;
  maxAttempts?: number;
  retry?: { initialMs?: number; maxMs?: number };
  /** Safety net for retries and missed wake-ups. */
  pollMs?: number;
  now?: () => Date;
  /** Told of every delivery that reached planning, when it succeeds or fails (metrics). Must not throw. */
  onDelivery?: (e: { target: string; outcome: "success" | "transient_failure" | "permanent_failure"; seconds: number }) => void;
  /**
   * Told of every LDAP write (audit log): each op after executeOps succeeds; on a failure the ops
   * before the failing one as successes, then the failing one with its result code. Attribute
   * names only, never values. Must not throw (a throw is logged and ignored).
   */
  onLdapWrite?: (e: LdapWriteReport) => void;
}

export interface LdapWriteReport {
  target: string;
  rule: string;
  resourceType: string;
  resourceId: string;
  operation: LdapOp["kind"];
  dn: string;
  outcome: "success" | "error";
  code?: number | undefined;
  detail?: string | undefined;
}

const FAN_OUT_BATCH = 5000;

/** A sync_state row's key as waiting_for names it. */
export function rowKey(row: Pick<SyncStateRow, "resourceType" | "resourceId" | "rule">): string {
  return `${row.resourceType}:${row.resourceId}:${row.rule}`;
}
/** Outbox rows a SCIM write fans out itself (its own, plus a few left by concurrent writers). */
const INLINE_FAN_OUT_MAX = 8;
/** Pump interval while the database cannot be written (db/storage-faults.ts). */
const STORAGE_FAULT_PUMP_MS = 1000;

/**
 * A (resource, rule) row a fan-out marked pending. `row` is the group row as marked (RETURNING),
 * so afterCommit needs no second read; user rows are read again, since setSecret writes their
 * sealed password after the mark.
 */
interface MarkedRow {
  kind: string;
  id: string;
  rule: string;
  target: string;
  row?: SyncStateRow;
}
export class DeliveryWorker implements WorkerServices {
  readonly sync: SyncQueries;
  readonly members: MemberSyncQueries;
  private readonly rulesByName: Map<string, CompiledRule>;
  private readonly removedByName: Map<string, CompiledRule>;
  private readonly groupRulesByName: Map<string, DeliverableGroupRule>;
  private readonly removedGroupsByName: Map<string, DeliverableGroupRule>;
  private readonly groups: GroupDelivery;
  private readonly users: UserDelivery;
  /** Entry rows: deletes of unmanaged entries queued by reconcile. */
  private readonly entries = new EntryDelivery(this);
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Rule names (configured and removed, users and groups) per target name. */
  private readonly rulesOfTarget = new Map<string, string[]>();
  private readonly perTarget = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private pumping = false;
  private again = false;
  /**
   * Whether a row may be due that no delivery has taken yet. Cleared by a pump that started every
   * due row it found; set by wake(), a fan-out that marked rows, a delivery leaving its row
   * pending or failing, and a pump that left rows waiting for a slot. The pump after each
   * delivery then skips the due queries when nothing can be waiting (two index reads, measured at
   * about a tenth of a millisecond between two back-to-back changes); the poll timer's wake()
   * looks regardless (retries come due by time).
   */
  private dueHint = true;
  /** Rows the last inline fan-out marked pending, for afterCommit(). */
  private justMarked: MarkedRow[] = [];
  readonly now: () => Date;

  constructor(private readonly o: WorkerOptions) {
    this.sync = new SyncQueries(o.store.db);
    this.members = new MemberSyncQueries(o.store.sqlite);
    this.rulesByName = new Map(o.rules.map((r) => [r.name, r]));
    this.removedByName = new Map((o.removedRules ?? []).map((r) => [r.name, r]));
    this.groupRulesByName = new Map((o.groupRules ?? []).map((r) => [r.name, r]));
    this.removedGroupsByName = new Map((o.removedGroupRules ?? []).map((r) => [r.name, r]));
    this.now = o.now ?? (() => new Date());
    for (const r of [...o.rules, ...(o.removedRules ?? []), ...(o.groupRules ?? []), ...(o.removedGroupRules ?? [])]) {
      this.rulesOfTarget.set(r.target, [...(this.rulesOfTarget.get(r.target) ?? []), r.name]);
    }
    this.groups = new GroupDelivery(this, { users: o.rules, removedUsers: o.removedRules ?? [], groups: o.groupRules ?? [], removedGroups: o.removedGroupRules ?? [] });
    this.users = new UserDelivery(this, { users: o.rules, removedUsers: o.removedRules ?? [] }, this.groups);
  }

  /** What the next delivery of (group, group rule) would send, read-only (the status API). */
  previewGroup(groupId: string, rule: string): ReturnType<GroupDelivery["preview"]> {
    return this.groups.preview(groupId, rule, this.sync.get("Group", groupId, rule));
  }

  /** The options the group path reads (WorkerServices). */
  get options(): WorkerOptions {
    return this.o;
  }

  /** Called inside the SCIM write's transaction: the password is sealed before it touches disk. */
  acceptPassword(userId: string, password: string): void {
    this.sync.putPendingSecret(userId, sealSecret(this.o.secretKey, password, userId), this.now().toISOString());
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.noteRules();
    this.timer = setInterval(() => this.wake(), this.o.pollMs ?? 1000);
    this.timer.unref();
    this.wake();
  }

  /** Stops taking work and waits for the deliveries in flight (graceful shutdown). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /**
   * Asks for a pump soon: after a commit, the poll timer, an admin retry or a reconcile repair.
   * Anything may have become due, so the pump looks.
   */
  wake(): void {
    this.dueHint = true;
    this.schedule();
  }

  /** A pump soon, without claiming that anything new is due (a delivery ended: its slot is free). */
  private schedule(): void {
    if (!this.running) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    // While the disk cannot be written every delivery fails at its first write: pump once a
    // second rather than spin (a pump that writes again is also what notices space came back).
    const later = storageHealthOf(this.o.store.sqlite).fault() ? (f: () => void) => setTimeout(f, STORAGE_FAULT_PUMP_MS) : setImmediate;
    later(() => {
      try {
        this.pump();
      } catch (e) {
        // A full or read-only disk (db/storage-faults.ts) is reported to /readyz; the rows stay
        // pending and the next pump tries again.
        storageHealthOf(this.o.store.sqlite).note(e, "worker");
        this.o.logger.error({ err: e }, "delivery worker pump failed");
      } finally {
        this.pumping = false;
        if (this.again) {
          this.again = false;
          this.schedule();
        }
      }
    });
  }

  /**
   * Remembers the configured rules (so a later removal can still be deprovisioned) and queues the
   * entries of removed rules; a removed rule is forgotten once it has no entries left.
   */
  private noteRules(): void {
    const at = this.now().toISOString();
    this.o.store.sqlite.transaction(() => {
      // Rows written before dn_key existed: which DN each holds, so no other resource takes it.
      for (let rows = this.sync.rowsWithoutDnKey(1000); rows.length; rows = this.sync.rowsWithoutDnKey(1000)) {
        for (const r of rows) this.sync.update(r.resourceType, r.resourceId, r.rule, { dnKey: dnKey(r.dn) });
      }
      for (const r of this.o.rules) this.sync.rememberRule(r.name, "User", r.target, r.config, at);
      for (const r of this.groupRulesByName.values()) this.sync.rememberRule(r.name, "Group", r.target, r.config, at);
      for (const r of [...this.removedByName.values(), ...this.removedGroupsByName.values()]) {
        const rows = this.sync.rowsOfRule(r.name);
        if (!rows.length) this.sync.forgetRule(r.name);
        for (const row of rows) this.sync.update(row.resourceType, row.resourceId, row.rule, { state: "pending", attempts: 0, nextAttempt: null, updated: at });
      }
    }).immediate();
  }

  private allRuleNames(): string[] {
    return [...this.rulesByName.keys(), ...this.removedByName.keys(), ...this.groupRulesByName.keys(), ...this.removedGroupsByName.keys()];
  }

  /** Fans out new outbox rows, then starts due deliveries within each target's concurrency. */
  pump(): void {
    // stop() can come between a wake() and its setImmediate: no delivery may start once stop()
    // took its snapshot of the ones in flight (it would run against a closed connection and store).
    if (!this.running) return;
    while (this.fanOut() > 0);
    if (!this.dueHint) return;
    // Cleared before looking, so a wake() from a delivery started below keeps it set.
    this.dueHint = false;
    let leftWaiting = false;
    const nowIso = this.now().toISOString();
    for (const [name, target] of this.o.targets) {
      const rules = this.rulesOfTarget.get(name);
      const busy = this.perTarget.get(name) ?? 0;
      const free = target.config.concurrency - busy;
      if (!rules?.length) continue;
      if (free <= 0) {
        leftWaiting = true;
        continue;
      }
      // Per target, so a backlog on one directory never starves another. Its in-flight rows are
      // still pending and come first (oldest change): ask for enough beyond them to fill the free
      // slots twice over, not for the whole backlog; this runs after every delivery.
      const limit = busy + free * 2;
      const due = this.sync.due(nowIso, rules, limit);
      if (due.length >= limit) leftWaiting = true;
      for (const row of due) {
        if ((this.perTarget.get(name) ?? 0) >= target.config.concurrency) {
          leftWaiting = true;
          break;
        }
        this.startDelivery(row, name);
      }
    }
    if (leftWaiting) this.dueHint = true;
  }

  /** Starts the row's delivery unless one for it is running; whether it started. */
  private startDelivery(row: SyncStateRow, target: string): boolean {
    const key = `${row.resourceType}:${row.resourceId}:${row.rule}`;
    if (this.inFlight.has(key)) return false;
    this.perTarget.set(target, (this.perTarget.get(target) ?? 0) + 1);
    const task = this.deliver(row)
      .catch((e: unknown) => {
        storageHealthOf(this.o.store.sqlite).note(e, "worker");
        this.o.logger.error({ err: e, rule: row.rule, id: row.resourceId }, "delivery crashed");
      })
      .finally(() => {
        this.inFlight.delete(key);
        this.perTarget.set(target, (this.perTarget.get(target) ?? 1) - 1);
        this.schedule();
      });
    this.inFlight.set(key, task);
    return true;
  }

  /**
   * The fan-out of a SCIM write's own outbox row, inside that write's transaction (a savepoint):
   * one commit instead of two per change. Only when the worker runs and is caught up (a backlog
   * stays with the worker, so no request pays for it). Never throws: a failure rolls back to the
   * savepoint and leaves the row to the worker. The rows it marks start in afterCommit().
   */
  fanOutInline(recorded: readonly OutboxEntry[] = []): void {
    this.justMarked = [];
    if (!this.running) return;
    try {
      // Inside the write's transaction: the cursor read here cannot move before the fan-out.
      const { cursor, newest } = this.sync.outboxPosition();
      const backlog = newest - cursor;
      if (backlog <= 0 || backlog > INLINE_FAN_OUT_MAX) return;
      // When the backlog is exactly the rows this write recorded, they are not read back (the
      // first read of a row just written was about 0.1 ms of a one-member PATCH, measured).
      const own = recorded.length === backlog && recorded.every((e, i) => e.seq === cursor + 1 + i) ? outboxBatch([...recorded]) : undefined;
      this.fanOutAfter(cursor, this.justMarked, own);
    } catch (e) {
      this.justMarked = [];
      this.o.logger.warn({ err: e }, "inline fan-out failed; the worker fans the change out");
    }
  }

  /**
   * After a SCIM write commits: the rows its inline fan-out marked start now, in the request's
   * turn, where their target has a free slot (the pump starts every due row it finds while slots
   * are free, so nothing older waits for that slot). This skips the pump's setImmediate hop and
   * its due queries, about a quarter of a millisecond before the LDAP operation leaves (measured
   * with a 10,000-member group). The pump still runs for everything else.
   */
  afterCommit(): void {
    const marked = this.justMarked;
    this.justMarked = [];
    // The pump is needed unless every row the fan-out marked started here: otherwise its due
    // queries would run while the LDAP operation just sent is in flight, for nothing.
    let needPump = marked.length === 0;
    // Inside an enclosing transaction nothing is committed yet: the pump takes the rows later.
    if (this.running && !this.o.store.sqlite.inTransaction) {
      for (const m of marked) {
        const target = this.o.targets.get(m.target);
        const row = target && (this.perTarget.get(m.target) ?? 0) < target.config.concurrency ? (m.row ?? this.sync.get(m.kind, m.id, m.rule)) : undefined;
        // Not pending: the write rolled back after the fan-out, or the row was taken meanwhile.
        if (!(row?.state === "pending" && this.startDelivery(row, m.target))) needPump = true;
      }
    } else needPump = true;
    if (needPump) this.wake();
  }

  /**
   * One transaction: outbox rows after the cursor become pending sync state for every rule; group
   * member deltas mark (group rule, group, member) pairs dirty; membership changes move users in or
   * out of group-based user rules.
   */
  fanOut(): number {
    // Two indexed reads instead of a write transaction when nothing was committed since (each pump).
    const { cursor, newest } = this.sync.outboxPosition();
    if (newest <= cursor) return 0;
    return this.fanOutAfter(cursor);
  }

  /** The fan-out transaction, from `known` (a cursor read in the caller's transaction) or the stored cursor. */
  private fanOutAfter(known: number | undefined, marked?: MarkedRow[], batch?: OutboxBatch): number {
    return this.o.store.sqlite.transaction(() => {
      const marksBefore = this.sync.marks;
      const cursor = known ?? this.sync.cursor();
      const { upTo, rows: changed, groupChanges } = batch ?? this.sync.changedSince(cursor, FAN_OUT_BATCH);
      if (!changed.length) return 0;
      const at = this.now().toISOString();
      const groupRules = [...this.groupRulesByName.values()];
      for (const c of changed) {
        if (c.kind === "User") {
          const secret = this.sync.takePendingSecret(c.id);
          for (const rule of this.o.rules) {
            this.sync.markPending(c.kind, c.id, rule.name, rule.target, c.seq, at);
            marked?.push({ kind: c.kind, id: c.id, rule: rule.name, target: rule.target });
            if (secret !== undefined && rule.actions.password) this.sync.setSecret(c.kind, c.id, rule.name, secret);
          }
          // A user who left groups without a group change (a deleted user leaves them all, RFC
          // 7644 §3.6): the groups whose entries hold its DN drop it.
          this.groups.markLeftMemberships(c.id, c.seq, at);
        } else if (c.kind === "Group") {
          for (const rule of groupRules) {
            const row = this.sync.markPending(c.kind, c.id, rule.name, rule.target, c.seq, at);
            marked?.push({ kind: c.kind, id: c.id, rule: rule.name, target: rule.target, row });
          }
        }
      }
      if (this.groups.active) this.groups.fanOutMemberships(groupChanges, groupRules, at);
      this.sync.setCursor(upTo);
      // Rows handed to afterCommit() are its to start (or to wake the pump for); any other row
      // marked here (group-based user rules, groups a deleted user leaves) is the pump's.
      if (!marked || this.sync.marks - marksBefore > marked.length) this.dueHint = true;
      return changed.length;
    }).immediate();
  }

  /** Pending, retrying or unfinished deliveries (for tests and shutdown). */
  idle(): boolean {
    const { cursor, newest } = this.sync.outboxPosition();
    return this.inFlight.size === 0 && this.sync.due("9999", this.allRuleNames(), 1).length === 0 && cursor >= newest;
  }


  private async deliver(row: SyncStateRow): Promise<void> {
    if (row.resourceType === ENTRY_KIND) return this.entries.deliver(row);
    return row.resourceType === "Group" ? this.groups.deliverGroup(row) : this.users.deliverUser(row);
  }

  /** Never throws: it runs inside the delivery's try, where a throwing observer would turn a success into a failure. */
  /** @internal (WorkerServices) */
  reportDelivery(target: string, outcome: "success" | "transient_failure" | "permanent_failure", t0: number): void {
    try {
      this.o.onDelivery?.({ target, outcome, seconds: (performance.now() - t0) / 1000 });
    } catch (e) {
      this.o.logger.warn({ err: e }, "onDelivery observer failed");
    }
  }

  /**
   * Audit: each op run (all, or those before the failing one and the failing one), reported as
   * soon as the ops return. The observer batches its writes (AuditLog writes a turn's rows in one
   * transaction), so the delivery's own finish() commit stays small: it is on the path from the
   * LDAP reply to the recorded outcome.
   */
  /** @internal (WorkerServices) */
  reportLdapWrites(row: SyncStateRow, ops: LdapOp[], error?: unknown): void {
    if (!this.o.onLdapWrite) return;
    const failed = error === undefined ? -1 : error instanceof LdapDeliveryError ? error.opIndex : 0;
    const upTo = failed === -1 ? ops.length : Math.min(failed + 1, ops.length);
    for (let i = 0; i < upTo; i++) {
      const op = ops[i]!;
      const isFailure = i === failed;
      try {
        this.o.onLdapWrite({
          target: row.target,
          rule: row.rule,
          resourceType: row.resourceType,
          resourceId: row.resourceId,
          operation: op.kind,
          dn: op.dn,
          outcome: isFailure ? "error" : "success",
          code: isFailure && error instanceof LdapDeliveryError ? error.code : undefined,
          detail: isFailure ? (error instanceof Error ? error.message : String(error)) : describeOp(op),
        });
      } catch (e) {
        this.o.logger.warn({ err: e }, "onLdapWrite observer failed");
      }
    }
  }

  /** Records success; if another change arrived meanwhile the row stays pending for another round. */
  /** @internal (WorkerServices) */
  finish(
    row: SyncStateRow,
    r: {
      /** needs_password: the entry had to be added again and the password it had is gone. */
      state: "in_sync" | "out_of_scope" | "remove" | "needs_password";
      written?: WrittenEntry | WrittenGroup | undefined;
      dn?: string | undefined;
      directoryId?: string | undefined;
      deliveredSecret?: boolean;
      at?: string;
      /** More work is queued for this row (a large membership change): deliver again. */
      more?: boolean;
    },
    alsoInTransaction?: () => void,
  ): void {
    this.o.store.sqlite.transaction(() => {
      alsoInTransaction?.();
      const current = this.sync.get(row.resourceType, row.resourceId, row.rule);
      if (!current) return;
      const newer = current.wantedSeq !== row.wantedSeq || r.more === true;
      if (newer) this.dueHint = true;
      const at = this.now().toISOString();
      const dn = r.state === "remove" ? null : (r.dn ?? current.dn);
      // A resource waiting for this one's entry to leave a DN may go on once it has.
      if (current.dnKey !== null && (dn === null || dnKey(dn) !== current.dnKey)) {
        if (this.sync.wakeWaitingFor(rowKey(row), at) > 0) this.dueHint = true;
      }
      if (r.state === "remove" && !newer) {
        tombstoneIfLeftInPlace(this.o.store.sqlite, current, this.removedByName.get(row.rule) ?? this.removedGroupsByName.get(row.rule), this.now().toISOString());
        this.sync.remove(row.resourceType, row.resourceId, row.rule);
        if ((this.removedByName.has(row.rule) || this.removedGroupsByName.has(row.rule)) && !this.sync.rowsOfRule(row.rule).length) this.sync.forgetRule(row.rule);
        return;
      }
      this.sync.update(row.resourceType, row.resourceId, row.rule, {
        state: newer ? "pending" : r.state === "remove" ? "out_of_scope" : r.state,
        deliveredSeq: row.wantedSeq,
        dn,
        dnKey: dn === null ? null : dnKey(dn),
        directoryId: r.state === "remove" ? null : (r.directoryId ?? current.directoryId),
        written: r.state === "remove" ? null : r.written ? JSON.stringify(r.written) : current.written,
        attempts: 0,
        lastAttempt: r.at ?? this.now().toISOString(),
        nextAttempt: null,
        lastCode: null,
        lastError: null,
        // Erase the password once delivered (or when this rule has no entry to deliver it to),
        // unless a newer one replaced it meanwhile.
        secret: (r.deliveredSecret || r.state !== "in_sync") && current.secret === row.secret ? null : current.secret,
        waitingFor: null,
        updated: at,
      });
    }).immediate();
  }

  /**
   * The row's entry would take a DN that `holder` (another resource) still holds, and the holder's
   * delivery is under way (a deleted user's entry waiting to be deleted): this row waits, and the
   * holder's finish() makes it pending again once the DN is free. The retry time is only a safety
   * net for a wake-up that never comes.
   */
  /** @internal (WorkerServices) */
  waitFor(row: SyncStateRow, holder: SyncStateRow, dn: string, at: string): void {
    const now = this.now();
    this.putBack(row, (newer) => ({
      state: newer ? "pending" : "retrying",
      waitingFor: rowKey(holder),
      lastAttempt: at,
      nextAttempt: newer ? null : new Date(now.getTime() + (this.o.retry?.maxMs ?? 60_000)).toISOString(),
      lastCode: null,
      lastError: `waiting for ${holder.resourceType} ${holder.resourceId} (rule ${holder.rule}, ${holder.state}) to leave ${dn}`,
      updated: now.toISOString(),
    }));
  }

  /**
   * Records a delivery that did not finish; `set` is told whether a newer change arrived meanwhile
   * (the row is then pending again at once).
   */
  private putBack(row: SyncStateRow, set: (newer: boolean) => Partial<SyncStateRow>): void {
    this.o.store.sqlite.transaction(() => {
      const current = this.sync.get(row.resourceType, row.resourceId, row.rule);
      if (!current) return;
      this.dueHint = true;
      this.sync.update(row.resourceType, row.resourceId, row.rule, set(current.wantedSeq !== row.wantedSeq));
    }).immediate();
  }

  /** @internal (WorkerServices) */
  fail(row: SyncStateRow, e: unknown, at: string): void {
    const err = e instanceof LdapDeliveryError ? e : undefined;
    const transient = err?.transient ?? false;
    const message = e instanceof Error ? e.message : String(e);
    const attempts = row.attempts + 1;
    const max = this.o.maxAttempts ?? 5;
    const giveUp = !transient && attempts >= max;
    const { initialMs = 500, maxMs = 60_000 } = this.o.retry ?? {};
    // Exponential backoff with full jitter: spreads retries of many entries after an outage.
    const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempts - 1, 20));
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    this.putBack(row, (newer) => ({
      state: newer ? "pending" : giveUp ? "failed" : "retrying",
      attempts: newer ? 0 : attempts,
      lastAttempt: at,
      nextAttempt: giveUp || newer ? null : new Date(this.now().getTime() + delay).toISOString(),
      lastCode: err?.code ?? null,
      lastError: message.slice(0, 2000),
      updated: this.now().toISOString(),
    }));
    this.o.logger.warn({ rule: row.rule, id: row.resourceId, code: err?.code, transient, attempts, giveUp, error: message }, "delivery failed");
  }
}
