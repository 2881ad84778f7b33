/**
 * Users and Groups read in insertion order, a page at a time (reconcile's expected side): a keyset
 * on seq, so a scan of a large table costs one index range read per page and holds no read
 * transaction between pages.
 */
import { asc, count, gt } from "drizzle-orm";
import type { ResourceKind } from "../schemas/registry.js";
import type { Store } from "./open.js";
import { groups, users } from "./schema.js";

export class ResourceScan {
  constructor(private readonly store: Pick<Store, "db">) {}

  /** How many resources of the kind are stored. */
  count(kind: ResourceKind): number {
    const t = kind === "User" ? users : groups;
    return this.store.db.select({ n: count() }).from(t).get()?.n ?? 0;
  }

  /**
   * The ids of every resource of the kind, `pageSize` at a time, oldest first. Each page is read
   * when asked for, after the one before it: resources added meanwhile are read too, those
   * deleted meanwhile are not.
   */
  *pages(kind: ResourceKind, pageSize: number): Generator<string[]> {
    const t = kind === "User" ? users : groups;
    for (let after = 0; ; ) {
      const rows = this.store.db.select({ seq: t.seq, id: t.id }).from(t).where(gt(t.seq, after)).orderBy(asc(t.seq)).limit(pageSize).all();
      if (!rows.length) return;
      yield rows.map((r) => r.id);
      after = rows[rows.length - 1]!.seq;
    }
  }
}
