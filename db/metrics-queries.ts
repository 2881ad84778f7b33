/**
 * The reads behind the Prometheus gauges (server/observability/metrics.ts), run at scrape time.
 * Each is an index range scan: the changes not fanned out yet (a partial index), and
 * sync_state's (state, wanted_seq) index, so only the backlog is visited, never every row.
 */
import { count, eq, inArray, min } from "drizzle-orm";
import type { Db } from "./sqlite-db.js";
import { changes, syncState } from "./schema.js";

const OPEN_STATES = ["pending", "retrying"];

export class MetricsQueries {
  constructor(private readonly db: Db) {}

  /** Changes not yet fanned out plus deliveries pending or retrying. */
  async outboxDepth(): Promise<number> {
    const unfanned = this.db.select({ n: count() }).from(changes).where(eq(changes.fannedOut, false)).get()?.n ?? 0;
    const open = this.db.select({ n: count() }).from(syncState).where(inArray(syncState.state, OPEN_STATES)).get()?.n ?? 0;
    return unfanned + open;
  }

  /** Delivery rows in one state, per target (targets without any are absent). */
  async countByTarget(state: string): Promise<{ target: string; n: number }[]> {
    return this.db.select({ target: syncState.target, n: count() }).from(syncState).where(eq(syncState.state, state)).groupBy(syncState.target).all();
  }

  /**
   * When the oldest undelivered change was written (ISO time), or undefined. A pending row stands
   * for its resource's newest change (wanted_seq): older ones coalesced into it, so this is a lower
   * bound of the true age, never an overestimate.
   */
  async oldestPendingAt(): Promise<string | undefined> {
    const firstUnfanned = this.db.select({ s: min(changes.seq) }).from(changes).where(eq(changes.fannedOut, false)).get()?.s ?? null;
    const minWanted = (state: string) => this.db.select({ s: min(syncState.wantedSeq) }).from(syncState).where(eq(syncState.state, state)).get()?.s ?? null;
    const seqs = [firstUnfanned, minWanted("pending"), minWanted("retrying")].filter((s): s is number => s !== null);
    if (!seqs.length) return undefined;
    return this.db.select({ at: changes.at }).from(changes).where(eq(changes.seq, Math.min(...seqs))).get()?.at;
  }
}
