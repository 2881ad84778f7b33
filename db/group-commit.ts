/**
 * Group commit: writes queued during one event-loop turn commit together, in one transaction at
 * the turn's end, each in a savepoint of its own (one that throws rolls back alone and rejects its
 * caller; the others commit). A caller's promise resolves only once its writes are durable, so a
 * delivery is recorded `in_sync` only after its outcome is on disk, exactly as with a commit of its
 * own. Measured with bench/provisioning.ts: a commit per delivery outcome and per DN claim was the
 * largest share of the worker's CPU (SQLite's `run` of COMMIT, about a fifth of a drain).
 */
import { AsyncResource } from "node:async_hooks";
import type { Store, StoreQueries } from "./store.js";

interface Queued {
  write: (tx: StoreQueries) => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class GroupCommit {
  private queue: Queued[] = [];
  private scheduled = false;
  /** The flush in progress, if any: the next one waits for it (shutdown too). */
  private flushing: Promise<void> = Promise.resolve();
  /**
   * The async context the group commit was made in. Flushes are scheduled from it, never from the
   * caller's: a write queued from inside a transaction would otherwise flush in that transaction's
   * ambient context (db/store.ts) and become a savepoint of it, committed or rolled back with it.
   */
  private readonly home = new AsyncResource("GroupCommit");

  /** `afterFlush` is told after every flush (committed or not): e.g. to look for newly due work. */
  constructor(
    private readonly store: Store,
    private readonly afterFlush: () => void = () => undefined,
  ) {}

  /** Runs `write` in the turn's transaction; resolves with its result once committed. `write` awaits only the store. */
  run<T>(write: (tx: StoreQueries) => Promise<T> | T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ write, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        this.home.runInAsyncScope(() => setImmediate(() => void this.flush()));
      }
    });
  }

  /** Writes queued so far, committed now (also called at shutdown); resolves once they are. */
  flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    this.flushing = this.flushing.then(() => this.commit(batch));
    return this.flushing;
  }

  private async commit(batch: Queued[]): Promise<void> {
    if (!batch.length) return;
    if (batch.length === 1) return this.commitAlone(batch[0]!);
    const results: { ok: boolean; value: unknown }[] = [];
    try {
      await this.store.transaction(async () => {
        for (const q of batch) {
          try {
            results.push({ ok: true, value: await this.store.transaction(q.write) });
          } catch (e) {
            results.push({ ok: false, value: e });
          }
        }
      });
    } catch (e) {
      // The commit itself failed (a full disk, a busy database): nothing of the batch is durable.
      for (const q of batch) q.reject(e);
      this.afterFlush();
      return;
    }
    batch.forEach((q, i) => (results[i]!.ok ? q.resolve(results[i]!.value) : q.reject(results[i]!.value)));
    this.afterFlush();
  }

  /**
   * A batch of one is its own transaction: a savepoint around it would isolate it from nobody.
   * On PostgreSQL the savepoint is two more statements per delivery (SAVEPOINT, RELEASE): 4 of
   * the 28 a user's creation and delivery sent, counted with pg_stat_statements.
   */
  private async commitAlone(q: Queued): Promise<void> {
    try {
      q.resolve(await this.store.transaction(q.write));
    } catch (e) {
      q.reject(e);
    }
    this.afterFlush();
  }
}
