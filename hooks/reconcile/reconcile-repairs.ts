/**
 * Reconcile's repairs of entries it did not expect, as outbox changes and sync_state rows the
 * delivery worker takes like any other change: ordered per resource, retried with backoff, and
 * each LDAP write in the audit log (the worker's onLdapWrite). Nothing here talks to LDAP.
 */
import type { StoreQueries } from "../../db/store.js";
import { ENTRY_KIND, type OwnedEntry, type UnmanagedEntry } from "../delivery/entry-ownership.js";
import { dnKey } from "../ldap/dn.js";

/** Records an outbox change by reconcile, inside the transaction `tx`; its seq. */
async function recordChange(tx: StoreQueries, kind: string, id: string, op: "resync" | "refresh" | "delete", at: string): Promise<number> {
  // A user's change carries its current version (as `scimbridge resync` does); a deleted user, a
  // group's refresh and an entry have none.
  const version = kind === "User" ? ((await tx.repairs.versionOf("User", id)) ?? 0) : 0;
  return tx.repairs.record({ kind, id, op, version, at, client: "reconcile" });
}

/**
 * A rule's leftover (tombstoned) entry goes back to its resource's sync_state row, as if the rule
 * had never stopped tracking it: `written` holds only its DN, so the delivery plans what the rule's
 * actions say for that resource now: the deprovision action of a deleted user or group (onDelete)
 * or of one outside the filter (onLeaveFilter), or a rename into place for one the rule selects.
 * A User change (resync) or a Group refresh is recorded in the outbox. False when the resource
 * holds another entry for this rule (see OwnedEntry.blocked).
 */
export async function queueLeftover(tx: StoreQueries, rule: { name: string; target: string }, x: OwnedEntry, at: string): Promise<boolean> {
  if (x.provenance !== "tombstone" || x.blocked !== undefined) return false;
  const current = await tx.sync.get(x.resourceType, x.resourceId, rule.name);
  if (current?.dn) return false;
  const seq = x.resourceType === "Group" ? await recordChange(tx, "Group", x.resourceId, "refresh", at) : await recordChange(tx, x.resourceType, x.resourceId, "resync", at);
  await tx.sync.markPending(x.resourceType, x.resourceId, rule.name, rule.target, seq, at);
  const written = x.resourceType === "Group" ? { dn: x.dn, attributes: {}, placeholder: false } : { dn: x.dn, attributes: {} };
  await tx.sync.update(x.resourceType, x.resourceId, rule.name, { dn: x.dn, dnKey: dnKey(x.dn), directoryId: x.directoryId ?? null, written: JSON.stringify(written), updated: at });
  // The row is the entry's provenance again.
  if (x.directoryId !== undefined) await tx.tombstones.forget(rule.target, dnKey(x.dn), x.directoryId);
  return true;
}

/**
 * An unmanaged entry to delete (`--delete-unmanaged`): an outbox change and a pending sync_state
 * row of kind Entry (resource id = the DN) under the rule that found it. The worker deletes the
 * entry only while it is still the one reconcile read (same directory id; hooks/entry-delivery.ts).
 */
export async function queueUnmanagedDelete(tx: StoreQueries, rule: { name: string; target: string }, x: UnmanagedEntry, at: string): Promise<void> {
  // Another rule sharing the base found the same entry in this run (or an earlier one's delete
  // still waits): one delete is enough.
  if (await tx.sync.waitingAt(ENTRY_KIND, rule.target, dnKey(x.dn), rule.name)) return;
  const seq = await recordChange(tx, ENTRY_KIND, x.dn, "delete", at);
  await tx.repairs.queueEntryDelete({ kind: ENTRY_KIND, rule: rule.name, target: rule.target, dn: x.dn, dnKey: dnKey(x.dn), directoryId: x.directoryId ?? null, seq, at });
}

/**
 * The repairs of a rule's unexpected entries, inside the caller's transaction (`tx`): its leftovers go
 * back to the delivery path; unmanaged entries no rule wrote are deleted when asked. Another
 * rule's entries are never deleted here, even when asked: they are scimbridge's, and that rule's
 * own reconcile and deliveries look after them. Returns how many repairs were queued.
 */
export async function queueOwnershipRepairs(tx: StoreQueries, rule: { name: string; target: string }, r: { extra: OwnedEntry[]; unmanaged: UnmanagedEntry[] }, deleteUnmanaged: boolean, at: string): Promise<number> {
  let queued = 0;
  for (const x of r.extra) {
    if (!(await queueLeftover(tx, rule, x, at))) continue;
    x.queued = true;
    queued += 1;
  }
  if (!deleteUnmanaged) return queued;
  for (const x of r.unmanaged) {
    if (x.owner !== undefined) continue;
    await queueUnmanagedDelete(tx, rule, x, at);
    x.queued = true;
    queued += 1;
  }
  return queued;
}

/** How many of a report's unexpected entries a repairing run would act on (see queueOwnershipRepairs). */
export function ownershipRepairsNeeded(r: { extra: OwnedEntry[]; unmanaged: UnmanagedEntry[] }, deleteUnmanaged: boolean): number {
  const leftovers = r.extra.filter((x) => x.provenance === "tombstone" && x.blocked === undefined).length;
  return leftovers + (deleteUnmanaged ? r.unmanaged.filter((x) => x.owner === undefined).length : 0);
}
