/**
 * Outbox changes recorded outside a SCIM write (an operator's resync, reconcile's repairs), on
 * PostgreSQL: the twin of db/repair-requests.ts (read it for what each method is for), on the
 * db/schema-pg.ts tables.
 */
import { and, eq } from "drizzle-orm";
import type { RepairChange } from "../repair-requests.js";
import type { RepairStore } from "../store.js";
import type { Transactor } from "../transactor.js";
import { changes, groups, syncState, users } from "../schema-pg.js";
import type { PgDb } from "./pg-db.js";

export class PgRepairRequests implements RepairStore {
  constructor(
    private readonly db: PgDb,
    private readonly store: Transactor<{ repairs: RepairStore }>,
  ) {}

  /**
   * The stored version of a User or Group; undefined when it does not exist. FOR SHARE: a write to
   * the resource still open on another connection is waited for, and its version read once it
   * commits (under READ COMMITTED a plain read would answer the older one,
   * https://www.postgresql.org/docs/15/sql-select.html#SQL-FOR-UPDATE-SHARE); SQLite gives
   * queueResync the same by taking the write lock up front.
   */
  async versionOf(kind: string, id: string): Promise<number | undefined> {
    const table = kind === "User" ? users : kind === "Group" ? groups : undefined;
    if (!table) return undefined;
    const [row] = await this.db.select({ v: table.version }).from(table).where(eq(table.id, id)).for("share");
    return row?.v;
  }

  async record(c: RepairChange): Promise<number> {
    const [row] = await this.db
      .insert(changes)
      .values({ resourceType: c.kind, resourceId: c.id, op: c.op, version: c.version, at: c.at, client: c.client })
      .returning({ seq: changes.seq });
    return row!.seq;
  }

  /**
   * A full resync of one resource, in a transaction of its own (or a savepoint of the caller's), so
   * the version it carries is the one current when the change is recorded. Undefined when the
   * resource neither exists nor has sync state.
   */
  async queueResync(kind: string, id: string, at: string, client: string): Promise<number | undefined> {
    return this.store.transaction(async ({ repairs }) => {
      const version = await repairs.versionOf(kind, id);
      if (version === undefined && !(await repairs.hasSyncState(kind, id))) return undefined;
      return repairs.record({ kind, id, op: "resync", version: version ?? 0, at, client });
    });
  }

  /** A pending row asking the worker to delete an entry (its id the DN); replaces an earlier request. */
  async queueEntryDelete(r: { kind: string; rule: string; target: string; dn: string; dnKey: string; directoryId: string | null; seq: number; at: string }): Promise<void> {
    const values = { state: "pending", wantedSeq: r.seq, dn: r.dn, dnKey: r.dnKey, directoryId: r.directoryId, attempts: 0, nextAttempt: null, lastCode: null, lastError: null, updated: r.at };
    await this.db
      .insert(syncState)
      .values({ resourceType: r.kind, resourceId: r.dn, rule: r.rule, target: r.target, ...values })
      .onConflictDoUpdate({ target: [syncState.resourceType, syncState.resourceId, syncState.rule], set: values });
  }

  async hasSyncState(kind: string, id: string): Promise<boolean> {
    const found = await this.db.select({ rule: syncState.rule }).from(syncState).where(and(eq(syncState.resourceType, kind), eq(syncState.resourceId, id))).limit(1);
    return found.length > 0;
  }
}
