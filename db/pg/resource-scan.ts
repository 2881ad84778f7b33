/** Users and Groups by seq, a page at a time, on PostgreSQL: db/resource-scan.ts's keyset on seq. */
import { asc, count, gt } from "drizzle-orm";
import type { ResourceKind } from "../../schemas/registry.js";
import { groups, users } from "../schema-pg.js";
import type { ResourceScanStore } from "../store.js";
import type { PgDb } from "./pg-db.js";

export class PgResourceScan implements ResourceScanStore {
  constructor(private readonly db: PgDb) {}

  async count(kind: ResourceKind): Promise<number> {
    const t = kind === "User" ? users : groups;
    return (await this.db.select({ n: count() }).from(t))[0]?.n ?? 0;
  }

  /**
   * Every id of the kind, `pageSize` at a time, oldest first (seq order). Each page is its own
   * statement: no transaction or cursor is held open between pages. seq is assigned at insert and
   * committed out of order, so a row that commits late with a seq below the scan's position is
   * read by the next scan, not this one (as with rows inserted after the scan passed).
   */
  async *pages(kind: ResourceKind, pageSize: number): AsyncGenerator<string[]> {
    const t = kind === "User" ? users : groups;
    for (let after = 0; ; ) {
      const rows = await this.db.select({ seq: t.seq, id: t.id }).from(t).where(gt(t.seq, after)).orderBy(asc(t.seq)).limit(pageSize);
      if (!rows.length) return;
      yield rows.map((r) => r.id);
      after = rows[rows.length - 1]!.seq;
    }
  }
}
