/**
 * Entry tombstones (entry_tombstones): what a rule wrote and stopped tracking while the entry
 * stayed in the directory. Reconcile reads them to tell a rule's own leftovers from entries it
 * never wrote. Plain prepared SQL, synchronous; callers wrap them in transactions.
 */
import type Database from "better-sqlite3";

export interface Tombstone {
  rule: string;
  target: string;
  /** The DN normalised (normalizeDn), as sync_state.dn_key. */
  dnKey: string;
  dn: string;
  /** entryUUID or objectGUID of the entry when the rule last tracked it. */
  directoryId: string;
  resourceType: string;
  resourceId: string;
  at: string;
}

/** Records (or refreshes) a tombstone; the same entry tombstoned twice is one row. */
export function recordTombstone(sqlite: Database.Database, t: Tombstone): void {
  sqlite
    .prepare(
      `INSERT INTO entry_tombstones (rule, target, dn_key, dn, directory_id, resource_type, resource_id, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (rule, target, dn_key, directory_id) DO UPDATE SET dn = excluded.dn, resource_type = excluded.resource_type, resource_id = excluded.resource_id, at = excluded.at`,
    )
    .run(t.rule, t.target, t.dnKey, t.dn, t.directoryId, t.resourceType, t.resourceId, t.at);
}

/** The tombstones of one rule on one target, streamed (a rule removed from a large directory has many). */
export function tombstonesOf(sqlite: Database.Database, rule: string, target: string): IterableIterator<Tombstone> {
  return sqlite
    .prepare(
      `SELECT rule, target, dn_key AS dnKey, dn, directory_id AS directoryId, resource_type AS resourceType, resource_id AS resourceId, at
       FROM entry_tombstones WHERE rule = ? AND target = ?`,
    )
    .iterate(rule, target) as IterableIterator<Tombstone>;
}

/** The rule (other than `except`) whose tombstone names this entry, if any. */
export function tombstoneOwner(sqlite: Database.Database, target: string, dnKey: string, directoryId: string, except: string): string | undefined {
  const row = sqlite
    .prepare("SELECT rule FROM entry_tombstones WHERE target = ? AND dn_key = ? AND directory_id = ? AND rule != ? LIMIT 1")
    .get(target, dnKey, directoryId, except) as { rule: string } | undefined;
  return row?.rule;
}

/** Forgets every tombstone of an entry (it is gone, or a sync_state row tracks it again). */
export function forgetTombstones(sqlite: Database.Database, target: string, dnKey: string, directoryId: string): number {
  return sqlite.prepare("DELETE FROM entry_tombstones WHERE target = ? AND dn_key = ? AND directory_id = ?").run(target, dnKey, directoryId).changes;
}
