/**
 * Outbox changes recorded outside a SCIM write: an operator's resync (`scimbridge resync`, the
 * admin API) and reconcile's repairs. The worker fans them out and delivers them like any SCIM
 * change (ordered per resource, retried with backoff), so nothing here talks to LDAP.
 */
import { and, eq } from "drizzle-orm";
import type { Db } from "./sqlite-db.js";
import { changes, groups, syncState, users } from "./schema.js";
import type { Surface, Transactor } from "./transactor.js";

export interface RepairChange {
  kind: string;
  id: string;
  /** resync (deliver the resource again), refresh (look at a group's members again), delete (an Entry). */
  op: "resync" | "refresh" | "delete";
  version: number;
  at: string;
  client: string;
}

export class RepairRequests {
  constructor(
    private readonly db: Db,
    private readonly store: Transactor<{ repairs: Surface<RepairRequests> }>,
  ) {}

  /** The stored version of a User or Group; undefined when it does not exist (any more). */
  async versionOf(kind: string, id: string): Promise<number | undefined> {
    const table = kind === "User" ? users : kind === "Group" ? groups : undefined;
    if (!table) return undefined;
    return this.db.select({ v: table.version }).from(table).where(eq(table.id, id)).get()?.v;
  }

  /** Records the change in the outbox; its seq. */
  async record(c: RepairChange): Promise<number> {
    return this.db
      .insert(changes)
      .values({ resourceType: c.kind, resourceId: c.id, op: c.op, version: c.version, at: c.at, client: c.client })
      .returning({ seq: changes.seq })
      .get().seq;
  }

  /**
   * A full resync of one resource, carrying the version current when it is queued (read and
   * written under the write lock taken up front). The seq, or undefined when the resource neither
   * exists nor has sync state: a deleted resource that still has entries is resynced too, and its
   * delivery deprovisions them.
   */
  async queueResync(kind: string, id: string, at: string, client: string): Promise<number | undefined> {
    return this.store.transaction(async ({ repairs }) => {
      const version = await repairs.versionOf(kind, id);
      if (version === undefined && !(await repairs.hasSyncState(kind, id))) return undefined;
      return repairs.record({ kind, id, op: "resync", version: version ?? 0, at, client });
    });
  }

  /**
   * A pending sync_state row asking the worker to delete an entry (resource kind `kind`, its id
   * the DN) under `rule`, for the change `seq`; replaces an earlier request for the same entry.
   */
  async queueEntryDelete(r: { kind: string; rule: string; target: string; dn: string; dnKey: string; directoryId: string | null; seq: number; at: string }): Promise<void> {
    const values = { state: "pending", wantedSeq: r.seq, dn: r.dn, dnKey: r.dnKey, directoryId: r.directoryId, attempts: 0, nextAttempt: null, lastCode: null, lastError: null, updated: r.at };
    this.db
      .insert(syncState)
      .values({ resourceType: r.kind, resourceId: r.dn, rule: r.rule, target: r.target, ...values })
      .onConflictDoUpdate({ target: [syncState.resourceType, syncState.resourceId, syncState.rule], set: values })
      .run();
  }

  async hasSyncState(kind: string, id: string): Promise<boolean> {
    return this.db.select({ rule: syncState.rule }).from(syncState).where(and(eq(syncState.resourceType, kind), eq(syncState.resourceId, id))).limit(1).get() !== undefined;
  }
}
