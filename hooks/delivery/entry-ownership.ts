/**
 * Which rule wrote a directory entry. A rule owns an entry when its recorded provenance names it:
 * its current correlation (a sync_state row of the rule holding that DN) or a tombstone of an
 * earlier one (entry_tombstones), matched by DN and by the directory's own id (entryUUID, RFC 4530;
 * objectGUID on AD), so an entry made later at the same DN by someone else is not taken for ours.
 * Reconcile deletes only a rule's own leftovers; anything else under its base is `unmanaged`.
 */
import type { Store, StoreQueries } from "../../db/store.js";
import type { SyncStateRow } from "../../db/sync.js";
import { dnKey } from "../ldap/dn.js";

/**
 * sync_state rows of this type stand for a directory entry rather than a SCIM resource (an
 * unmanaged entry an operator asked reconcile to delete); resource_id is the entry's DN.
 */
export const ENTRY_KIND = "Entry";

/** Read with every reconcile search: whichever the directory has (entryUUID, or AD's objectGUID). */
export const DIRECTORY_ID_ATTRIBUTES = ["entryUUID", "objectGUID"] as const;

/** The directory id of an entry read with normalizeEntry (lower-cased keys). */
export function directoryIdOf(entry: Record<string, string[]>): string | undefined {
  return entry["entryuuid"]?.[0] ?? entry["objectguid"]?.[0];
}


interface RemovableRule {
  actions: { deprovision: { onRuleRemoved: string }; delete?: boolean };
}

/** Whether removing this rule from the config leaves its entries in the directory. */
export function removalLeavesEntries(rule: RemovableRule): boolean {
  // Group rules may also have deleting switched off altogether (actions.delete false).
  return rule.actions.deprovision.onRuleRemoved !== "delete" || rule.actions.delete === false;
}

/**
 * Called as a sync_state row is removed: when the row held an entry that stays in the directory
 * (its rule was removed with onRuleRemoved none or disable), the rule's provenance of that entry is
 * kept as a tombstone. `removedRule` is the row's rule when it is a removed one.
 */
export async function tombstoneIfLeftInPlace(tx: Pick<StoreQueries, "tombstones">, row: SyncStateRow, removedRule: RemovableRule | undefined, at: string): Promise<void> {
  if (row.resourceType === ENTRY_KIND || row.dn === null || row.directoryId === null) return;
  if (!removedRule || !removalLeavesEntries(removedRule)) return;
  await tx.tombstones.record({ rule: row.rule, target: row.target, dnKey: dnKey(row.dn), dn: row.dn, directoryId: row.directoryId, resourceType: row.resourceType, resourceId: row.resourceId, at });
}

/** A directory entry under a rule's base that the rule does not expect. */
export interface UnexpectedEntry {
  dn: string;
  directoryId?: string | undefined;
}

/** An unexpected entry this rule wrote. */
export interface OwnedEntry {
  dn: string;
  resourceType: string;
  resourceId: string;
  /**
   * correlation: a sync_state row of the rule holds it (a user who left the filter with
   * onLeaveFilter disable, a delivery still to run): the deliveries' business, never reconcile's.
   * tombstone: a leftover of an earlier correlation; repair hands it back to the delivery path.
   */
  provenance: "correlation" | "tombstone";
  directoryId?: string | undefined;
  /** Why a leftover cannot be handed back (its resource holds another entry for this rule). */
  blocked?: string;
  /** A repair was queued in the outbox (not in a dry run). */
  queued?: boolean;
}

/** An unexpected entry this rule did not write: another rule's, or no rule's (made by hand). */
export interface UnmanagedEntry {
  dn: string;
  directoryId?: string | undefined;
  /** The rule of this target that wrote it, when one did. */
  owner?: string;
  /** Its delete was queued (`--delete-unmanaged`, not in a dry run). */
  queued?: boolean;
}

/** Whether a recorded directory id allows the entry read (both known and different: another entry). */
const sameEntry = (recorded: string | null, read: string | undefined) => recorded === null || read === undefined || recorded === read;

/**
 * Splits a rule's unexpected entries into those it owns and the unmanaged rest. Reads the rule's
 * rows and tombstones once each (streamed) and the other rules' rows of the target once, keeping
 * only the unexpected entries in memory.
 */
export async function classifyUnexpected(store: Pick<Store, "sync" | "tombstones">, rule: { name: string; target: string }, entries: UnexpectedEntry[]): Promise<{ extra: OwnedEntry[]; unmanaged: UnmanagedEntry[] }> {
  if (!entries.length) return { extra: [], unmanaged: [] };
  const byKey = new Map(entries.map((e) => [dnKey(e.dn), e] as const));
  const owned = new Map<string, OwnedEntry>();
  // Entry rows (a delete queued for an unmanaged entry) record no provenance: they are skipped.
  for await (const r of store.sync.rowsHoldingDns(ENTRY_KIND, { rule: rule.name })) {
    const key = r.dnKey ?? dnKey(r.dn);
    const e = byKey.get(key);
    if (e && sameEntry(r.directoryId, e.directoryId)) owned.set(key, { dn: e.dn, resourceType: r.resourceType, resourceId: r.resourceId, provenance: "correlation", directoryId: e.directoryId });
  }
  for await (const t of store.tombstones.of(rule.name, rule.target)) {
    const e = byKey.get(t.dnKey);
    if (!e || owned.has(t.dnKey) || e.directoryId === undefined || e.directoryId !== t.directoryId) continue;
    const holds = await store.sync.get(t.resourceType, t.resourceId, rule.name);
    const x: OwnedEntry = { dn: e.dn, resourceType: t.resourceType, resourceId: t.resourceId, provenance: "tombstone", directoryId: e.directoryId };
    if (holds?.dn) x.blocked = `${t.resourceType}/${t.resourceId} holds ${holds.dn} for this rule`;
    owned.set(t.dnKey, x);
  }

  const others = new Map<string, string>();
  for await (const r of store.sync.rowsHoldingDns(ENTRY_KIND, { target: rule.target, exceptRule: rule.name })) {
    const key = r.dnKey ?? dnKey(r.dn);
    const e = byKey.get(key);
    if (e && !owned.has(key) && !others.has(key) && sameEntry(r.directoryId, e.directoryId)) others.set(key, r.rule);
  }
  const extra: OwnedEntry[] = [];
  const unmanaged: UnmanagedEntry[] = [];
  for (const [key, e] of byKey) {
    const mine = owned.get(key);
    if (mine) {
      extra.push(mine);
      continue;
    }
    const owner = others.get(key) ?? (e.directoryId === undefined ? undefined : await store.tombstones.owner(rule.target, key, e.directoryId, rule.name));
    unmanaged.push({ dn: e.dn, ...(e.directoryId === undefined ? {} : { directoryId: e.directoryId }), ...(owner === undefined ? {} : { owner }) });
  }
  return { extra, unmanaged };
}
