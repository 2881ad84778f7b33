/**
 * Entry tombstones (entry_tombstones): what a rule wrote and stopped tracking while the entry
 * stayed in the directory. Reconcile reads them to tell a rule's own leftovers from entries it
 * never wrote. Synchronous; callers wrap writes in Store.transaction.
 */
import { and, eq, ne, sql } from "drizzle-orm";
import type { Store } from "./open.js";
import { entryTombstones } from "./schema.js";

export type Tombstone = typeof entryTombstones.$inferSelect;

/** Tombstones streamed by tombstonesOf are read this many at a time (keyset on dn_key). */
const PAGE = 1000;

/** Records (or refreshes) a tombstone; the same entry tombstoned twice is one row. */
export function recordTombstone(store: Pick<Store, "db">, t: Tombstone): void {
  store.db
    .insert(entryTombstones)
    .values(t)
    .onConflictDoUpdate({
      target: [entryTombstones.rule, entryTombstones.target, entryTombstones.dnKey, entryTombstones.directoryId],
      set: { dn: t.dn, resourceType: t.resourceType, resourceId: t.resourceId, at: t.at },
    })
    .run();
}

/** The tombstones of one rule on one target, a page at a time (a rule removed from a large directory has many). */
export function* tombstonesOf(store: Pick<Store, "db">, rule: string, target: string): Generator<Tombstone> {
  let after: Tombstone | undefined;
  for (;;) {
    const page = store.db
      .select()
      .from(entryTombstones)
      .where(
        and(
          eq(entryTombstones.rule, rule),
          eq(entryTombstones.target, target),
          after && sql`(${entryTombstones.dnKey}, ${entryTombstones.directoryId}) > (${after.dnKey}, ${after.directoryId})`,
        ),
      )
      .orderBy(entryTombstones.dnKey, entryTombstones.directoryId)
      .limit(PAGE)
      .all();
    yield* page;
    if (page.length < PAGE) return;
    after = page[page.length - 1];
  }
}

/** The rule (other than `except`) whose tombstone names this entry, if any. */
export function tombstoneOwner(store: Pick<Store, "db">, target: string, dnKey: string, directoryId: string, except: string): string | undefined {
  return store.db
    .select({ rule: entryTombstones.rule })
    .from(entryTombstones)
    .where(and(eq(entryTombstones.target, target), eq(entryTombstones.dnKey, dnKey), eq(entryTombstones.directoryId, directoryId), ne(entryTombstones.rule, except)))
    .limit(1)
    .get()?.rule;
}

/** Forgets every tombstone of an entry (it is gone, or a sync_state row tracks it again); how many. */
export function forgetTombstones(store: Pick<Store, "db">, target: string, dnKey: string, directoryId: string): number {
  return store.db
    .delete(entryTombstones)
    .where(and(eq(entryTombstones.target, target), eq(entryTombstones.dnKey, dnKey), eq(entryTombstones.directoryId, directoryId)))
    .run().changes;
}
