/**
 * Entry tombstones on PostgreSQL: the twin of db/tombstones.ts (read it for what they are), on the
 * db/schema-pg.ts tables.
 */
import { and, asc, eq, ne, sql } from "drizzle-orm";
import type { TombstoneStore } from "../store.js";
import type { Tombstone } from "../tombstones.js";
import { entryTombstones } from "../schema-pg.js";
import type { PgDb } from "./pg-db.js";
import { changed } from "./sync.js";

/** Tombstones.of reads this many at a time (keyset on dn_key, directory_id). */
const PAGE = 1000;

export class PgTombstones implements TombstoneStore {
  constructor(private readonly db: PgDb) {}

  async record(t: Tombstone): Promise<void> {
    await this.db
      .insert(entryTombstones)
      .values(t)
      .onConflictDoUpdate({
        target: [entryTombstones.rule, entryTombstones.target, entryTombstones.dnKey, entryTombstones.directoryId],
        set: { dn: t.dn, resourceType: t.resourceType, resourceId: t.resourceId, at: t.at },
      });
  }

  /** The tombstones of one rule on one target, a page at a time, each page after the last one's key. */
  async *of(rule: string, target: string): AsyncGenerator<Tombstone> {
    let after: Tombstone | undefined;
    for (;;) {
      const page = await this.db
        .select()
        .from(entryTombstones)
        .where(
          and(
            eq(entryTombstones.rule, rule),
            eq(entryTombstones.target, target),
            after && sql`(${entryTombstones.dnKey}, ${entryTombstones.directoryId}) > (${after.dnKey}, ${after.directoryId})`,
          ),
        )
        .orderBy(asc(entryTombstones.dnKey), asc(entryTombstones.directoryId))
        .limit(PAGE);
      yield* page;
      if (page.length < PAGE) return;
      after = page[page.length - 1];
    }
  }

  async owner(target: string, dnKey: string, directoryId: string, except: string): Promise<string | undefined> {
    const [row] = await this.db
      .select({ rule: entryTombstones.rule })
      .from(entryTombstones)
      .where(and(eq(entryTombstones.target, target), eq(entryTombstones.dnKey, dnKey), eq(entryTombstones.directoryId, directoryId), ne(entryTombstones.rule, except)))
      .limit(1);
    return row?.rule;
  }

  async forget(target: string, dnKey: string, directoryId: string): Promise<number> {
    return changed(
      await this.db
        .delete(entryTombstones)
        .where(and(eq(entryTombstones.target, target), eq(entryTombstones.dnKey, dnKey), eq(entryTombstones.directoryId, directoryId))),
    );
  }
}
