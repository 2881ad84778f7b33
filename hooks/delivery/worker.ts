/**
 * The delivery worker (design.md decisions 2 and 3), assembled from its parts: the fan-out turns
 * committed outbox rows into per-(resource, rule) sync state; the scheduler takes due rows and
 * runs each delivery (map → plan (pure) → execute (idempotent)); the recorder writes each outcome
 * in a group commit. One delivery per (resource, rule) at a time keeps order per resource; many
 * resources run in parallel up to each target's concurrency. Transient failures retry with
 * exponential backoff and jitter, forever; permanent ones are recorded with the LDAP result code
 * and, after `maxAttempts`, parked as failed until the next change.
 */
import type { Logger } from "pino";
import { GroupCommit } from "../../db/group-commit.js";
import { resourceReader } from "../../db/read-resource.js";
import type { Singleton, Store } from "../../db/store.js";
import { workerPresenceName, type SyncStateRow } from "../../db/sync.js";
import type { SchemaRegistry } from "../../schemas/registry.js";
import { LdapDeliveryError } from "../ldap/executor.js";
import { describeOp, type LdapOp } from "../planning/ops.js";
import type { DeliverableGroupRule } from "../rules/group-rule.js";
import type { CompiledRule } from "../rules/mapping.js";
import type { DeliveryContext, Target } from "./context.js";
import { deliverEntry } from "./entry-delivery.js";
import { ENTRY_KIND } from "./entry-ownership.js";
import { FanOut } from "./fan-out.js";
import { deliverGroup, previewGroup } from "./group-delivery.js";
import { Memberships } from "./memberships.js";
import type { Outcome } from "./outcome.js";
import { OutcomeRecorder, resultOf } from "./recorder.js";
import { RuleSet } from "./rule-set.js";
import { Scheduler } from "./scheduler.js";
import { sealSecret } from "./secrets.js";
import { deliverUser } from "./user-delivery.js";

export interface WorkerOptions {
  store: Store;
  logger: Logger;
  /** Renders stored resources for mapping (db/read-resource.ts). */
  registry: SchemaRegistry;
  rules: CompiledRule[];
  /**
   * Rules that were configured before and are not any more (from known_rules), compiled from
   * their last-seen config: their entries are deprovisioned per their `onRuleRemoved` action.
   */
  removedRules?: CompiledRule[];
  groupRules?: DeliverableGroupRule[];
  /** Group rules removed from config, compiled from their last-seen config (see removedRules). */
  removedGroupRules?: DeliverableGroupRule[];
  targets: Map<string, Target>;
  /** AES-256-GCM key that seals SCIM passwords until delivered. */
  secretKey: Buffer;
  maxAttempts?: number;
  retry?: { initialMs?: number; maxMs?: number };
  /** Safety net for retries and missed wake-ups. */
  pollMs?: number;
  /** How long a claimed row stays this worker's without a heartbeat (./scheduler.ts). */
  leaseMs?: number;
  now?: () => Date;
  /**
   * Told of every delivery that reached an outcome, once it is recorded (metrics): how long it
   * took, and how long after the change's commit the directory had it (`lagSeconds`, successes
   * only). Must not throw.
   */
  onDelivery?: (e: DeliveryEvent) => void;
  /**
   * Told of every LDAP write (audit log): each op after executeOps succeeds; on a failure the ops
   * before the failing one as successes, then the failing one with its result code. Attribute
   * names only, never values. Must not throw (a throw is logged and ignored).
   */
  onLdapWrite?: (e: LdapWriteReport) => void;
}

export interface DeliveryEvent {
  target: string;
  outcome: "success" | "transient_failure" | "permanent_failure";
  seconds: number;
  /** From the commit of the change delivered to the directory's answer (successes). */
  lagSeconds?: number;
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

/** How long a backlog count is reused: counting is an index range of up to the cap's length. */
const BACKLOG_READ_MS = 50;

export class DeliveryWorker {
  readonly now: () => Date;
  private readonly ctx: DeliveryContext;
  private readonly memberships: Memberships;
  private readonly fanOuts: FanOut;
  private readonly recorder: OutcomeRecorder;
  private readonly scheduler: Scheduler;
  private readonly commit: GroupCommit;
  /** The last backlog count, or the one being read (callers meanwhile share it). */
  private backlogRead: { at: number; n: Promise<number> } = { at: -Infinity, n: Promise.resolve(0) };
  /** Targets whose most recent delivery failed transiently (backlog() leaves their rows out). */
  private readonly failingTargets = new Set<string>();

  private unwatch: () => void = () => undefined;
  /** This worker's presence (db/sync.ts workerPresenceName), while held. */
  private presence: Singleton | undefined;
  private presenceRetry: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(private readonly o: WorkerOptions) {
    this.now = o.now ?? (() => new Date());
    const rules = new RuleSet({ users: o.rules, groups: o.groupRules, removedUsers: o.removedRules, removedGroups: o.removedGroupRules });
    this.commit = new GroupCommit(o.store);
    this.ctx = {
      store: o.store,
      rules,
      targets: o.targets,
      read: resourceReader(o.store, o.registry),
      secretKey: o.secretKey,
      logger: o.logger,
      now: this.now,
      commit: (write) => this.commit.run(write),
      reportLdapWrites: (row, ops, error) => this.reportLdapWrites(row, ops, error),
    };
    this.memberships = new Memberships(this.ctx);
    this.fanOuts = new FanOut(this.ctx, this.memberships);
    this.recorder = new OutcomeRecorder({
      rules,
      commit: this.commit,
      now: this.now,
      maxAttempts: o.maxAttempts ?? 5,
      retry: { initialMs: o.retry?.initialMs ?? 500, maxMs: o.retry?.maxMs ?? 60_000 },
    });
    const storage = o.store.health;
    this.scheduler = new Scheduler({
      targets: new Map([...o.targets].map(([name, t]) => [name, { concurrency: t.config.concurrency, globalConcurrency: t.config.globalConcurrency }])),
      rulesOn: (target) => rules.rulesOn(target),
      claim: (now, names, limit, lease, cap) => o.store.transaction((tx) => tx.sync.claim(now, names, limit, lease, cap)),
      renewLeases: (owner, tokens, now, until) => o.store.transaction((tx) => tx.sync.renewLeases(owner, tokens, now, until)),
      releaseLeases: (owner) => o.store.transaction((tx) => tx.sync.releaseLeases(owner)),
      present: () => this.presence !== undefined,
      releaseLeasesOfGone: (now) => o.store.transaction((tx) => tx.sync.releaseLeasesOfGone(now)),
      leaseFailed: (e) => {
        storage.note(e, "worker");
        o.logger.error({ err: e }, "delivery leases not renewed or released; they run out by themselves");
      },
      leaseMs: o.leaseMs ?? 60_000,
      anythingDue: async () => (await this.fanOuts.behind()) || (await o.store.sync.due("9999", rules.allNames(), 1)).length > 0,
      fanOut: () => this.fanOuts.run(),
      deliver: (row) => this.deliver(row),
      pumpFailed: (e) => {
        // A full or read-only disk (db/storage-faults.ts) is reported to /readyz; the rows stay
        // pending and the next pump tries again.
        storage.note(e, "worker");
        o.logger.error({ err: e }, "delivery worker pump failed");
      },
      storageFailing: () => storage.fault() !== undefined,
      pollMs: o.pollMs ?? 1000,
      now: this.now,
    });
  }

  /**
   * Called inside the SCIM write's transaction (the store's getters are then that transaction's):
   * the password is sealed before it touches disk, and commits with the write or not at all.
   */
  async acceptPassword(userId: string, password: string): Promise<void> {
    await this.o.store.sync.putPendingSecret(userId, sealSecret(this.o.secretKey, password, userId), this.now().toISOString());
  }

  /**
   * Takes work: remembers the configured rules and queues removed rules' entries (committed before
   * anything is delivered), then starts claiming rows. Every replica on PostgreSQL runs a worker;
   * leases on the rows (./scheduler.ts), not a leader, keep each row with one worker at a time.
   */
  async start(): Promise<void> {
    // With SQLite this is the one serving process (the serve lock): a lease left in the file is a
    // dead process's, and would otherwise hold its row back for the rest of the lease.
    if (this.o.store.engine === "sqlite") await this.o.store.transaction((tx) => tx.sync.releaseLeases(undefined));
    await this.fanOuts.noteRules();
    // Held before anything is claimed: a worker without it is taken for gone, its leases ended.
    await this.holdPresence();
    this.scheduler.start();
    // Changes committed by other processes (replicas on PostgreSQL) wake it at once.
    this.unwatch = this.o.store.watchChanges(() => this.scheduler.wake());
  }

  /**
   * Stops taking work, waits for the deliveries in flight and their outcomes, and ends this
   * worker's leases (graceful shutdown: the other replicas take its rows at once).
   */
  async stop(): Promise<void> {
    this.unwatch();
    this.unwatch = () => undefined;
    await this.scheduler.stop();
    await this.commit.flush();
    this.stopping = true;
    clearTimeout(this.presenceRetry);
    await this.presence?.release();
    this.presence = undefined;
  }

  /**
   * Holds the claim that says this worker is alive (db/sync.ts workerPresenceName), and takes it
   * again if its connection is lost, so the other replicas do not end this worker's leases while
   * it runs.
   */
  private async holdPresence(): Promise<void> {
    this.stopping = false;
    try {
      this.presence = await this.o.store.singleton(workerPresenceName(this.scheduler.owner));
    } catch (e) {
      this.o.logger.warn({ err: e }, "delivery worker's presence not held; retrying");
    }
    const held = this.presence;
    if (held) {
      void held.lost.then(() => {
        if (this.stopping || this.presence !== held) return;
        this.presence = undefined;
        this.o.logger.warn("delivery worker's presence connection lost; taking it again");
        this.retryPresence();
      });
    } else this.retryPresence();
  }

  private retryPresence(): void {
    if (this.stopping) return;
    clearTimeout(this.presenceRetry);
    this.presenceRetry = setTimeout(() => void this.holdPresence(), this.o.pollMs ?? 1000);
    this.presenceRetry.unref();
  }

  /**
   * A SCIM write committed: its outbox rows are fanned out and delivered soon. Rows already taken
   * for delivery go first (the new ones are younger).
   */
  changed(): void {
    this.scheduler.wake();
  }

  /** Rows were made due outside the outbox (an admin retry, a reconcile repair): look again now. */
  wake(): void {
    this.scheduler.wake();
  }

  /** Fans out what was committed so far, now (tests and the status API look at the result). */
  async fanOut(): Promise<number> {
    let n = 0;
    for (let k = await this.fanOuts.run(); k > 0; k = await this.fanOuts.run()) n += k;
    return n;
  }

  /**
   * Changes waiting for their first delivery attempt (pending rows, plus outbox rows not fanned
   * out yet), counted up to `cap`; read at most every BACKLOG_READ_MS (writes ask on every request).
   * Rows of a target whose last delivery failed transiently (down, or timing out) do not count:
   * a directory outage must not hold SCIM intake back.
   */
  backlog(cap: number): Promise<number> {
    const now = performance.now();
    if (now - this.backlogRead.at > BACKLOG_READ_MS) this.backlogRead = { at: now, n: this.countBacklog(cap) };
    return this.backlogRead.n;
  }

  private async countBacklog(cap: number): Promise<number> {
    const unfanned = await this.o.store.sync.unfannedUpTo(cap);
    return Math.min(cap, unfanned + (await this.o.store.sync.pendingUpTo(cap, [...this.failingTargets])));
  }

  /** Nothing in flight, due or unfanned (tests and shutdown). */
  idle(): Promise<boolean> {
    return this.scheduler.idle();
  }

  /** What the next delivery of (group, group rule) would send, read-only (the status API). */
  previewGroup(groupId: string, rule: string): ReturnType<typeof previewGroup> {
    return previewGroup(this.ctx, this.memberships, groupId, rule);
  }

  /** Runs one delivery, records its outcome, and reports it; never rejects. False: not recorded. */
  private async deliver(row: SyncStateRow): Promise<boolean> {
    const t0 = performance.now(); // monotonic, unlike the injectable clock
    let outcome: Outcome;
    try {
      outcome =
        row.resourceType === ENTRY_KIND
          ? await deliverEntry(this.ctx, row)
          : row.resourceType === "Group"
            ? await deliverGroup(this.ctx, this.memberships, row)
            : await deliverUser(this.ctx, this.memberships, row);
    } catch (e) {
      // A throw outside a delivery's own try (reading the resource, a storage fault): retried.
      outcome = { kind: "failed", error: e, at: this.now().toISOString() };
    }
    try {
      const recorded = await this.recorder.record(row, outcome);
      if (recorded.fenced) {
        // Its lease ran out and another worker took the row over: that worker's result stands,
        // and it converges the entry again from what was last recorded (writes are idempotent).
        this.o.logger.warn({ rule: row.rule, id: row.resourceId }, "delivery outcome not recorded: the row's lease was taken over");
        return true;
      }
      if (recorded.due) this.scheduler.wake();
    } catch (e) {
      // Not recorded (the disk is full, the database busy): the row is still due and is
      // delivered again (deliveries are idempotent).
      this.o.store.health.note(e, "worker");
      this.o.logger.error({ err: e, rule: row.rule, id: row.resourceId }, "delivery outcome not recorded");
      return false;
    }
    await this.report(row, outcome, t0);
    return true;
  }

  /** Logs and counts a recorded outcome; never rejects. */
  private async report(row: SyncStateRow, outcome: Outcome, t0: number): Promise<void> {
    if (outcome.kind === "failed") {
      const err = outcome.error instanceof LdapDeliveryError ? outcome.error : undefined;
      const message = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
      this.o.logger.warn({ rule: row.rule, id: row.resourceId, code: err?.code, transient: err?.transient ?? false, attempts: row.attempts + 1, error: message }, "delivery failed");
    }
    const result = resultOf(outcome);
    if (result === "transient_failure") this.failingTargets.add(row.target);
    else if (result === "success") this.failingTargets.delete(row.target);
    if (!result || !this.o.onDelivery) return;
    try {
      const seconds = (performance.now() - t0) / 1000;
      const changedAt = result === "success" ? await this.o.store.sync.changedAt(row.wantedSeq) : undefined;
      const lagSeconds = changedAt === undefined ? undefined : Math.max(0, (this.now().getTime() - Date.parse(changedAt)) / 1000);
      this.o.onDelivery({ target: row.target, outcome: result, seconds, ...(lagSeconds === undefined ? {} : { lagSeconds }) });
    } catch (e) {
      this.o.logger.warn({ err: e }, "onDelivery observer failed");
    }
  }

  /**
   * Audit: each op run (all, or those before the failing one and the failing one), reported as
   * soon as the ops return. The observer batches its writes (the audit log writes a turn's rows
   * in one transaction).
   */
  private reportLdapWrites(row: SyncStateRow, ops: LdapOp[], error?: unknown): void {
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
}
