/**
 * Outbox changes recorded outside a SCIM write: an operator's resync (`scimbridge resync`, the
 * admin API) and reconcile's repairs. The worker fans them out and delivers them like any SCIM
 * change (ordered per resource, retried with backoff), so nothing here talks to LDAP.
 */
import { and, eq } from "drizzle-orm";
import type { Store } from "./open.js";
import { changes, groups, syncState, users } from "./schema.js";
import { writeTransaction } from "./transaction.js";

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
  constructor(private readonly store: Pick<Store, "db">) {}

  /** The stored version of a User or Group; undefined when it does not exist (any more). */
  versionOf(kind: string, id: string): number | undefined {
    const table = kind === "User" ? users : kind === "Group" ? groups : undefined;
    if (!table) return undefined;
    return this.store.db.select({ v: table.version }).from(table).where(eq(table.id, id)).get()?.v;
  }

  /** Records the change in the outbox; its seq. */
  record(c: RepairChange): number {
    return this.store.db
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
  queueResync(kind: string, id: string, at: string, client: string): number | undefined {
    return writeTransaction(this.store, () => {
      const version = this.versionOf(kind, id);
      if (version === undefined && !this.hasSyncState(kind, id)) return undefined;
      return this.record({ kind, id, op: "resync", version: version ?? 0, at, client });
    });
  }

  /**
   * A pending sync_state row asking the worker to delete an entry (resource kind `kind`, its id
   * the DN) under `rule`, for the change `seq`; replaces an earlier request for the same entry.
   */
  queueEntryDelete(r: { kind: string; rule: string; target: string; dn: string; dnKey: string; directoryId: string | null; seq: number; at: string }): void {
    const values = { state: "pending", wantedSeq: r.seq, dn: r.dn, dnKey: r.dnKey, directoryId: r.directoryId, attempts: 0, nextAttempt: null, lastCode: null, lastError: null, updated: r.at };
    this.store.db
      .insert(syncState)
      .values({ resourceType: r.kind, resourceId: r.dn, rule: r.rule, target: r.target, ...values })
      .onConflictDoUpdate({ target: [syncState.resourceType, syncState.resourceId, syncState.rule], set: values })
      .run();
  }

  private hasSyncState(kind: string, id: string): boolean {
    return this.store.db.select({ rule: syncState.rule }).from(syncState).where(and(eq(syncState.resourceType, kind), eq(syncState.resourceId, id))).limit(1).get() !== undefined;
  }
}
