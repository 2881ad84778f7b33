/**
 * What runs when: fans committed outbox rows out, claims due rows in batches, and starts their
 * deliveries within each target's concurrency, oldest change first. It knows rows, targets and
 * slots, not what a delivery does: `deliver` runs one and resolves once its outcome is recorded.
 *
 * A row is taken by a lease on it (db/sync.ts claim), not by memory: any number of workers (one
 * per replica) claim from one database, and a leased row is not claimed again until its outcome
 * ends the lease or the lease runs out. So a (resource, rule) is delivered by one worker at a
 * time, which keeps each resource's changes in order, and no worker leads. The lease is renewed
 * by a heartbeat while the worker holds it (a group delivery may take minutes). A worker that
 * crashes leaves its rows to the others at their next poll where the store can tell it is gone
 * (PostgreSQL: its presence lock ended with its session), and after at most one lease otherwise. Each claim bears a fencing token:
 * the recorder writes an outcome only while the row still bears it (./recorder.ts), so a worker
 * whose lease ran out while it delivered (a long pause, a partition) cannot overwrite the result
 * of the worker that took the row over.
 */
import { AsyncResource } from "node:async_hooks";
import { randomInt, randomUUID } from "node:crypto";
import { rowKey, type Lease, type SyncStateRow, type TargetCap } from "../../db/sync.js";

export interface SchedulerOptions {
  /**
   * Target names with their concurrency (connections, and deliveries in flight here), and the
   * limit of deliveries across all workers, if the target has one.
   */
  targets: ReadonlyMap<string, { concurrency: number; globalConcurrency?: number | undefined }>;
  /** The rules whose rows a target's slots take. */
  rulesOn(target: string): string[];
  /** Leases rows due now for these rules, oldest change first, in a transaction (db/sync.ts claim). */
  claim(now: string, rules: string[], limit: number, lease: Lease, cap?: TargetCap): Promise<SyncStateRow[]>;
  /** Extends the leases of this worker's claims `tokens` that still hold at `now` (db/sync.ts renewLeases). */
  renewLeases(owner: string, tokens: number[], now: string, until: string): Promise<number>;
  /** Ends this worker's leases (db/sync.ts releaseLeases). */
  releaseLeases(owner: string): Promise<number>;
  /**
   * Whether the other workers can see this one alive (db/sync.ts workerPresenceName). Without it
   * they may end its leases at any poll, so it claims nothing until it holds it again.
   */
  present(): boolean;
  /** Ends the leases of workers that are gone (db/sync.ts releaseLeasesOfGone); asked once a poll. */
  releaseLeasesOfGone(now: string): Promise<number>;
  /** Told of a heartbeat or release that failed (the leases then run out by themselves). */
  leaseFailed(e: unknown): void;
  /** How long a claim holds a row; renewed every third of it while held. */
  leaseMs: number;
  /** Whether anything at all is due or unfanned (idle()). */
  anythingDue(): Promise<boolean>;
  /** Fans out committed outbox rows; how many it took (0: none left). */
  fanOut(): Promise<number>;
  /**
   * Runs one delivery and records its outcome; never rejects. Resolves false when the outcome
   * could not be recorded (the database unreachable, the disk full): the row, still leased here,
   * is delivered again (deliveries are idempotent) while its lease holds.
   */
  deliver(row: SyncStateRow): Promise<boolean>;
  /** Told of a pump that threw (the rows stay due; the next pump tries again). */
  pumpFailed(e: unknown): void;
  /** Whether the database cannot be written now: pump once a second rather than spin. */
  storageFailing(): boolean;
  pollMs: number;
  now(): Date;
}

/**
 * Rows claimed per claim beyond the free slots, queued here under this worker's lease. The queue
 * is refilled when it cannot fill the free slots, not after every delivery: a due query per
 * delivery was most of the scheduler's cost (bench/provisioning.ts).
 */
const CLAIM_BATCH = 64;
/** Fencing tokens are drawn at random below this (2^48: exact in a JS number and in a bigint). */
const TOKEN_RANGE = 2 ** 48;
/** Pump interval while the database cannot be written (db/storage-faults.ts). */
const STORAGE_FAULT_PUMP_MS = 1000;

export class Scheduler {
  /** This worker's name on the leases it takes (one per scheduler: a restart is a new owner). */
  readonly owner = randomUUID();
  private readonly inFlight = new Map<string, { row: SyncStateRow; task: Promise<void> }>();
  private readonly busy = new Map<string, number>();
  /** Per target: rows claimed and not started yet, oldest first. */
  private readonly queued = new Map<string, SyncStateRow[]>();
  private timer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private running = false;
  /** A pump is scheduled or under way (one at a time). */
  private pumping = false;
  /** The pump under way, if any: stop() waits for it. */
  private pumpRun: Promise<void> | undefined;
  private again = false;
  /** The poll came: look for the leases of workers that are gone before the next claim. */
  private reap = true;

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
    this.timer = setInterval(() => {
      this.reap = true;
      this.wake();
    }, this.o.pollMs);
    this.timer.unref();
    this.heartbeat = setInterval(() => this.home.runInAsyncScope(() => void this.renew()), this.o.leaseMs / 3);
    this.heartbeat.unref();
    this.wake();
  }

  /**
   * Stops taking work, waits for the deliveries in flight, and ends this worker's leases, so the
   * rows it had claimed and not delivered are free for the other replicas at once (a rolling
   * restart waits for no lease to run out).
   */
  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.timer);
    // A pump under way may be between a claim and starting what it took: it starts nothing once
    // it sees `running` false, and the deliveries it started before are waited for below.
    await this.pumpRun;
    this.queued.clear();
    await Promise.allSettled([...this.inFlight.values()].map((f) => f.task));
    clearInterval(this.heartbeat);
    try {
      await this.o.releaseLeases(this.owner);
    } catch (e) {
      this.o.leaseFailed(e); // they run out by themselves
    }
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
    if (this.reap) {
      this.reap = false;
      await this.o.releaseLeasesOfGone(this.o.now().toISOString());
    }
    for (const [name, target] of this.o.targets) {
      const free = () => target.concurrency - (this.busy.get(name) ?? 0);
      if (free() <= 0) continue;
      // Rows claimed before go first: they are older, and a row whose outcome could not be
      // recorded is among them. The queue stays in the map while a claim is awaited, so a row
      // given back meanwhile joins it.
      const queue = this.unexpired(this.queued.get(name) ?? []);
      this.queued.set(name, queue);
      this.startQueued(queue, name, free);
      const rules = this.o.rulesOn(name);
      if (free() > 0 && rules.length && this.o.present()) {
        // Rows this worker leased (in flight or queued) are not claimed again.
        const now = this.o.now();
        const lease = { owner: this.owner, until: new Date(now.getTime() + this.o.leaseMs).toISOString(), token: randomInt(1, TOKEN_RANGE) };
        // With a limit across workers, claim only what can start now: rows queued here would
        // count against every other replica's room.
        const cap = target.globalConcurrency === undefined ? undefined : { target: name, max: target.globalConcurrency };
        queue.push(...(await this.o.claim(now.toISOString(), rules, cap ? free() : free() + CLAIM_BATCH, lease, cap)));
        if (!this.running) return;
        this.startQueued(queue, name, free);
      }
    }
  }

  /**
   * The queued rows whose lease still holds. A row whose lease ran out (the heartbeat failed, the
   * database unreachable) may have been claimed by another worker: it is left to the next claim.
   */
  private unexpired(queue: SyncStateRow[]): SyncStateRow[] {
    const now = this.o.now().toISOString();
    return queue.filter((r) => r.leaseUntil !== null && r.leaseUntil > now);
  }

  /**
   * The heartbeat: extends the leases of the rows this worker holds, queued or in flight, that
   * have not run out. One that ran out is left alone: another worker may hold it now, and if none
   * does it is claimed again like any due row.
   */
  private async renew(): Promise<void> {
    // Also while stop() waits for the deliveries in flight: their leases must hold until they end.
    const at = this.o.now();
    const now = at.toISOString();
    const until = new Date(at.getTime() + this.o.leaseMs).toISOString();
    const held = [...[...this.queued.values()].flat(), ...[...this.inFlight.values()].map((f) => f.row)];
    const tokens = [...new Set(held.map((r) => r.leaseToken).filter((t): t is number => t !== null))];
    try {
      await this.o.renewLeases(this.owner, tokens, now, until);
    } catch (e) {
      this.o.leaseFailed(e);
      return;
    }
    for (const queue of this.queued.values()) for (const r of queue) if (r.leaseUntil !== null && r.leaseUntil > now) r.leaseUntil = until;
  }

  /**
   * Starts queued rows, oldest first, while slots are free. A row whose previous delivery is
   * still finishing here stays queued: its outcome committed (ending that lease) before the
   * delivery left `inFlight`, and a claim in between took the row again. Dropped, it would be
   * held under a lease nobody renews or delivers until the lease ran out.
   */
  private startQueued(queue: SyncStateRow[], target: string, free: () => number): void {
    for (let i = 0; free() > 0 && i < queue.length; ) {
      if (this.inFlight.has(rowKey(queue[i]!))) i++;
      else this.startDelivery(queue.splice(i, 1)[0]!, target);
    }
  }

  private startDelivery(row: SyncStateRow, target: string): void {
    const key = rowKey(row);
    this.busy.set(target, (this.busy.get(target) ?? 0) + 1);
    const task = this.o.deliver(row).then((recorded) => {
      this.inFlight.delete(key);
      this.busy.set(target, (this.busy.get(target) ?? 1) - 1);
      if (!recorded && this.running) {
        const queue = this.queued.get(target) ?? [];
        queue.unshift(row);
        this.queued.set(target, queue);
      }
      this.wake();
    });
    this.inFlight.set(key, { row, task });
  }
}
