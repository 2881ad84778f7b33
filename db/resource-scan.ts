/**
 * Users and Groups read in insertion order, a page at a time (reconcile's expected side): a keyset
 * on seq, so a scan of a large table costs one index range read per page and holds no read
 * transaction between pages.
 */
import { asc, count, gt } from "drizzle-orm";
import type { ResourceKind } from "../schemas/registry.js";
import type { Db } from "./sqlite-db.js";
import { groups, users } from "./schema.js";

export class ResourceScan {
  constructor(private readonly db: Db) {}

  /** How many resources of the kind are stored. */
  async count(kind: ResourceKind): Promise<number> {
    const t = kind === "User" ? users : groups;
    return this.db.select({ n: count() }).from(t).get()?.n ?? 0;
  }

  /**
   * The ids of every resource of the kind, `pageSize` at a time, oldest first. Each page is read
   * when asked for, after the one before it: resources added meanwhile are read too, those
   * deleted meanwhile are not.
   */
  async *pages(kind: ResourceKind, pageSize: number): AsyncGenerator<string[]> {
    const t = kind === "User" ? users : groups;
    for (let after = 0; ; ) {
      const rows = this.db.select({ seq: t.seq, id: t.id }).from(t).where(gt(t.seq, after)).orderBy(asc(t.seq)).limit(pageSize).all();
      if (!rows.length) return;
      yield rows.map((r) => r.id);
      after = rows[rows.length - 1]!.seq;
    }
  }
}
