/**
 * sync_state as operators see it, on PostgreSQL: the twin of db/sync-status.ts (read it for what
 * each method is for), on the db/schema-pg.ts tables.
 */
import { and, asc, count, eq, inArray, sql, type SQL } from "drizzle-orm";
import type { SyncStatusView } from "../store.js";
import type { FailureFilter, RetrySelection } from "../sync-status.js";
import type { SyncStateRow } from "../sync.js";
import { syncState } from "../schema-pg.js";
import type { PgDb } from "./pg-db.js";
import { changed } from "./sync.js";

export class PgSyncStatusStore implements SyncStatusView {
  constructor(private readonly db: PgDb) {}

  async rowsOf(type: string, id: string): Promise<SyncStateRow[]> {
    return this.db
      .select()
      .from(syncState)
      .where(and(eq(syncState.resourceType, type), eq(syncState.resourceId, id)))
      .orderBy(asc(syncState.rule));
  }

  /**
   * Rows in the filter's states, newest attempt first, ties broken by resource id, type and rule.
   * A row never attempted sorts last, as in SQLite, where NULL is the lowest value; PostgreSQL's
   * DESC puts NULL first unless told NULLS LAST, for which drizzle has no helper
   * (https://www.postgresql.org/docs/15/queries-order.html).
   */
  async failures(f: FailureFilter, page: { offset: number; limit: number }): Promise<{ total: number; rows: SyncStateRow[] }> {
    const conds: SQL[] = [inArray(syncState.state, f.states)];
    if (f.target !== undefined) conds.push(eq(syncState.target, f.target));
    if (f.rule !== undefined) conds.push(eq(syncState.rule, f.rule));
    if (f.code !== undefined) conds.push(eq(syncState.lastCode, f.code));
    const where = and(...conds);
    const [counted] = await this.db.select({ n: count() }).from(syncState).where(where);
    const rows = await this.db
      .select()
      .from(syncState)
      .where(where)
      .orderBy(sql`${syncState.lastAttempt} DESC NULLS LAST`, asc(syncState.resourceId), asc(syncState.resourceType), asc(syncState.rule))
      .limit(page.limit)
      .offset(page.offset);
    return { total: counted?.n ?? 0, rows };
  }

  async retry(states: string[], sel: RetrySelection, at: string): Promise<number> {
    const conds: SQL[] = [inArray(syncState.state, states)];
    if (!("all" in sel)) conds.push(eq(syncState.resourceType, sel.type), eq(syncState.resourceId, sel.id));
    return changed(
      await this.db
        .update(syncState)
        .set({ state: "pending", attempts: 0, nextAttempt: null, updated: at })
        .where(and(...conds)),
    );
  }
}
