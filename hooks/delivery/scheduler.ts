/**
 * What runs when: fans committed outbox rows out, takes due rows in batches, and starts their
 * deliveries within each target's concurrency, oldest change first. It knows rows, targets and
 * slots, not what a delivery does: `deliver` runs one and resolves once its outcome is recorded,
 * and only then is the row's slot free again (so a row is never delivered twice at once, nor
 * picked again before its outcome is durable).
 */
import { AsyncResource } from "node:async_hooks";
import { rowKey, type SyncStateRow } from "../../db/sync.js";

export interface SchedulerOptions {
  /** Target names with their concurrency (connections, and deliveries in flight). */
  targets: ReadonlyMap<string, { concurrency: number }>;
  /** The rules whose rows a target's slots take. */
  rulesOn(target: string): string[];
  /** Rows due now for these rules, oldest change first (db/sync.ts due). */
  due(now: string, rules: string[], limit: number): Promise<SyncStateRow[]>;
  /** Whether anything at all is due or unfanned (idle()). */
  anythingDue(): Promise<boolean>;
  /** Fans out committed outbox rows; how many it took (0: none left). */
  fanOut(): Promise<number>;
  /** Runs one delivery and records its outcome; never rejects. */
  deliver(row: SyncStateRow): Promise<void>;
  /** Told of a pump that threw (the rows stay due; the next pump tries again). */
  pumpFailed(e: unknown): void;
  /** Whether the database cannot be written now: pump once a second rather than spin. */
  storageFailing(): boolean;
  pollMs: number;
  now(): Date;
}

/**
 * Rows taken per due query beyond the free slots. The queue is read again when it cannot fill the
 * free slots, not after every delivery: a due query per delivery was most of the scheduler's cost.
 */
const CLAIM_BATCH = 64;
/** Pump interval while the database cannot be written (db/storage-faults.ts). */
const STORAGE_FAULT_PUMP_MS = 1000;

export class Scheduler {
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly busy = new Map<string, number>();
  /** Per target: due rows taken by the last query and not started yet, oldest first. */
  private readonly queued = new Map<string, SyncStateRow[]>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** A pump is scheduled or under way (one at a time). */
  private pumping = false;
  /** The pump under way, if any: stop() waits for it. */
  private pumpRun: Promise<void> | undefined;
  private again = false;
  /** The queues may miss rows that are due sooner (a retry whose time came): read them again. */
  private stale = true;

  /**
   * The async context the scheduler was made in: pumps are scheduled from it, never from a
   * caller's, so a wake() from inside a transaction (db/store.ts: its context is ambient) cannot
   * run the pump's reads and writes as part of that transaction.
   */
  private readonly home = new AsyncResource("Scheduler");

  constructor(private readonly o: SchedulerOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.timer = setInterval(() => this.refresh(), this.o.pollMs);
    this.timer.unref();
    this.refresh();
  }

  /** Stops taking work and waits for the deliveries in flight (graceful shutdown). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    // A pump under way may be between a due query and starting what it read: it starts nothing
    // once it sees `running` false, and the deliveries it started before are waited for below.
    await this.pumpRun;
    this.queued.clear();
    await Promise.allSettled([...this.inFlight.values()]);
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** New rows may have been committed (a SCIM write, an outcome): fan out and fill free slots soon. */
  wake(): void {
    if (!this.running) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    const later = (f: () => void): void => void (this.o.storageFailing() ? setTimeout(f, STORAGE_FAULT_PUMP_MS) : setImmediate(f));
    this.home.runInAsyncScope(later, undefined, () => {
      this.pumpRun = this.pump()
        .catch((e: unknown) => this.o.pumpFailed(e))
        .finally(() => {
          this.pumpRun = undefined;
          this.pumping = false;
          if (this.again) {
            this.again = false;
            this.wake();
          }
        });
    });
  }

  /** As wake(), and the due queues are read afresh (the poll timer, an admin retry, a reconcile repair). */
  refresh(): void {
    this.stale = true;
    this.wake();
  }

  /** Nothing in flight, nothing due, nothing left to fan out. */
  async idle(): Promise<boolean> {
    return this.inFlight.size === 0 && !(await this.o.anythingDue());
  }

  private async pump(): Promise<void> {
    // stop() can come between a wake() and its setImmediate, or while the pump awaits the store:
    // no delivery may start once stop() took its snapshot of the ones in flight (it would run
    // against a closed connection and store).
    if (!this.running) return;
    while ((await this.o.fanOut()) > 0) if (!this.running) return;
    const reread = this.stale;
    this.stale = false;
    const now = this.o.now().toISOString();
    for (const [name, target] of this.o.targets) {
      const free = () => target.concurrency - (this.busy.get(name) ?? 0);
      if (free() <= 0) continue;
      let queue = this.queued.get(name) ?? [];
      if (reread || queue.length < free()) {
        // In-flight rows are still pending and come back from the query: skipped, not counted.
        // Skipped too when in flight as the query was asked: one that finished while it ran may
        // come back as read before its outcome committed, and must not start again from that.
        const busy = this.busy.get(name) ?? 0;
        const rules = this.o.rulesOn(name);
        const flying = new Set(this.inFlight.keys());
        const due = rules.length ? await this.o.due(now, rules, busy + free() + CLAIM_BATCH) : [];
        if (!this.running) return;
        queue = due.filter((r) => !flying.has(rowKey(r)) && !this.inFlight.has(rowKey(r)));
      }
      while (free() > 0 && queue.length) this.startDelivery(queue.shift()!, name);
      this.queued.set(name, queue);
    }
  }

  private startDelivery(row: SyncStateRow, target: string): void {
    const key = rowKey(row);
    if (this.inFlight.has(key)) return;
    this.busy.set(target, (this.busy.get(target) ?? 0) + 1);
    const task = this.o.deliver(row).finally(() => {
      this.inFlight.delete(key);
      this.busy.set(target, (this.busy.get(target) ?? 1) - 1);
      this.wake();
    });
    this.inFlight.set(key, task);
  }
}
