/**
 * Entry tombstones (entry_tombstones): what a rule wrote and stopped tracking while the entry
 * stayed in the directory. Reconcile reads them to tell a rule's own leftovers from entries it
 * never wrote. Writes happen inside Store.transaction.
 */
import { and, eq, ne, sql } from "drizzle-orm";
import type { Db } from "./sqlite-db.js";
import { entryTombstones } from "./schema.js";

export type Tombstone = typeof entryTombstones.$inferSelect;

/** Tombstones.of reads this many at a time (keyset on dn_key). */
const PAGE = 1000;

export class Tombstones {
  constructor(private readonly db: Db) {}

  /** Records (or refreshes) a tombstone; the same entry tombstoned twice is one row. */
  async record(t: Tombstone): Promise<void> {
    this.db
      .insert(entryTombstones)
      .values(t)
      .onConflictDoUpdate({
        target: [entryTombstones.rule, entryTombstones.target, entryTombstones.dnKey, entryTombstones.directoryId],
        set: { dn: t.dn, resourceType: t.resourceType, resourceId: t.resourceId, at: t.at },
      })
      .run();
  }

  /** The tombstones of one rule on one target, a page at a time (a rule removed from a large directory has many). */
  async *of(rule: string, target: string): AsyncGenerator<Tombstone> {
    let after: Tombstone | undefined;
    for (;;) {
      const page = this.db
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
  async owner(target: string, dnKey: string, directoryId: string, except: string): Promise<string | undefined> {
    return this.db
      .select({ rule: entryTombstones.rule })
      .from(entryTombstones)
      .where(and(eq(entryTombstones.target, target), eq(entryTombstones.dnKey, dnKey), eq(entryTombstones.directoryId, directoryId), ne(entryTombstones.rule, except)))
      .limit(1)
      .get()?.rule;
  }

  /** Forgets every tombstone of an entry (it is gone, or a sync_state row tracks it again); how many. */
  async forget(target: string, dnKey: string, directoryId: string): Promise<number> {
    return this.db
      .delete(entryTombstones)
      .where(and(eq(entryTombstones.target, target), eq(entryTombstones.dnKey, dnKey), eq(entryTombstones.directoryId, directoryId)))
      .run().changes;
  }
}
