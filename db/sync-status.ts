/**
 * sync_state as operators see it (the admin API and the `status`, `failures`, `retry` and
 * `resync` commands): one resource's rows, failure pages, and rows put back to pending. The
 * worker's own reads and writes of the table are db/sync.ts's.
 */
import { and, asc, count, desc, eq, inArray, type SQL } from "drizzle-orm";
import type { Db } from "./sqlite-db.js";
import { syncState } from "./schema.js";
import type { SyncStateRow } from "./sync.js";

export interface FailureFilter {
  /** The states listed (failed, retrying, ...). */
  states: string[];
  target?: string | undefined;
  rule?: string | undefined;
  code?: number | undefined;
}

export type RetrySelection = { all: true } | { type: string; id: string };

export class SyncStatusStore {
  constructor(private readonly db: Db) {}

  /** One resource's rows, by rule name. */
  async rowsOf(type: string, id: string): Promise<SyncStateRow[]> {
    return this.db
      .select()
      .from(syncState)
      .where(and(eq(syncState.resourceType, type), eq(syncState.resourceId, id)))
      .orderBy(asc(syncState.rule))
      .all();
  }

  /**
   * Rows in the filter's states, newest attempt first; ties broken by resource id, type and rule
   * so pages are stable (LIMIT/OFFSET over a total order). NULL last_attempt sorts last under DESC.
   */
  async failures(f: FailureFilter, page: { offset: number; limit: number }): Promise<{ total: number; rows: SyncStateRow[] }> {
    const conds: SQL[] = [inArray(syncState.state, f.states)];
    if (f.target !== undefined) conds.push(eq(syncState.target, f.target));
    if (f.rule !== undefined) conds.push(eq(syncState.rule, f.rule));
    if (f.code !== undefined) conds.push(eq(syncState.lastCode, f.code));
    const where = and(...conds);
    const total = this.db.select({ n: count() }).from(syncState).where(where).get()?.n ?? 0;
    const rows = this.db
      .select()
      .from(syncState)
      .where(where)
      .orderBy(desc(syncState.lastAttempt), asc(syncState.resourceId), asc(syncState.resourceType), asc(syncState.rule))
      .limit(page.limit)
      .offset(page.offset)
      .all();
    return { total, rows };
  }

  /** Rows in `states` (of one resource, or all) back to pending with a fresh attempt budget; how many. */
  async retry(states: string[], sel: RetrySelection, at: string): Promise<number> {
    const conds: SQL[] = [inArray(syncState.state, states)];
    if (!("all" in sel)) conds.push(eq(syncState.resourceType, sel.type), eq(syncState.resourceId, sel.id));
    return this.db
      .update(syncState)
      .set({ state: "pending", attempts: 0, nextAttempt: null, updated: at })
      .where(and(...conds))
      .run().changes;
  }
}
