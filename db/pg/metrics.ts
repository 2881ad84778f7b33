/** The reads behind the Prometheus gauges on PostgreSQL: db/metrics-queries.ts's behaviour and index use. */
import { count, eq, inArray, min } from "drizzle-orm";
import { changes, syncState } from "../schema-pg.js";
import type { MetricsView } from "../store.js";
import type { PgDb } from "./pg-db.js";

const OPEN_STATES = ["pending", "retrying"];

export class PgMetricsQueries implements MetricsView {
  constructor(private readonly db: PgDb) {}

  async outboxDepth(): Promise<number> {
    const [unfanned] = await this.db.select({ n: count() }).from(changes).where(eq(changes.fannedOut, false));
    const [open] = await this.db.select({ n: count() }).from(syncState).where(inArray(syncState.state, OPEN_STATES));
    return (unfanned?.n ?? 0) + (open?.n ?? 0);
  }

  async countByTarget(state: string): Promise<{ target: string; n: number }[]> {
    return this.db.select({ target: syncState.target, n: count() }).from(syncState).where(eq(syncState.state, state)).groupBy(syncState.target);
  }

  /** As db/metrics-queries.ts: a lower bound of the oldest undelivered change's age, never an overestimate. */
  async oldestPendingAt(): Promise<string | undefined> {
    // min() of a bigint comes back as text from node-postgres; mapWith(Number) turns it into the seq.
    const [firstUnfanned] = await this.db.select({ s: min(changes.seq).mapWith(Number) }).from(changes).where(eq(changes.fannedOut, false));
    const minWanted = async (state: string) =>
      (await this.db.select({ s: min(syncState.wantedSeq).mapWith(Number) }).from(syncState).where(eq(syncState.state, state)))[0]?.s ?? null;
    const seqs = [firstUnfanned?.s ?? null, await minWanted("pending"), await minWanted("retrying")].filter((s): s is number => s !== null);
    if (!seqs.length) return undefined;
    const [row] = await this.db.select({ at: changes.at }).from(changes).where(eq(changes.seq, Math.min(...seqs)));
    return row?.at;
  }
}
