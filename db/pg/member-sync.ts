/**
 * Membership delivery's store on PostgreSQL: the twin of db/member-sync.ts (read it for what each
 * method is for), on the db/schema-pg.ts tables. The dirty column is a generation counter: a
 * delivery clears only the generation it read, so a mark made while it ran is never lost.
 */
import { and, eq, gt, inArray, isNotNull, ne, sql } from "drizzle-orm";
import type { MemberSyncRow } from "../member-sync.js";
import type { MemberSyncStore } from "../store.js";
import { groupMembers, groupMemberSync, syncState, users } from "../schema-pg.js";
import type { PgDb } from "./pg-db.js";
import { changed } from "./sync.js";

const pairKey = [groupMemberSync.rule, groupMemberSync.groupId, groupMemberSync.memberId];
const pair = (rule: string, groupId: string, memberId: string) =>
  and(eq(groupMemberSync.rule, rule), eq(groupMemberSync.groupId, groupId), eq(groupMemberSync.memberId, memberId));

export class PgMemberSyncQueries implements MemberSyncStore {
  constructor(private readonly db: PgDb) {}

  /**
   * Asks for (rule, group, member) to be looked at again; `evict` asks for its value to go. A new
   * mark bumps the pair's generation; greatest() keeps an eviction already asked for (SQLite's
   * scalar max).
   */
  async markDirty(rule: string, groupId: string, memberId: string, evict = false): Promise<void> {
    await this.db
      .insert(groupMemberSync)
      .values({ rule, groupId, memberId, dn: null, dirty: 1, evict: evict ? 1 : 0 })
      .onConflictDoUpdate({ target: pairKey, set: { dirty: sql`${groupMemberSync.dirty} + 1`, evict: sql`greatest(${groupMemberSync.evict}, excluded.evict)` } });
  }

  /** Marks every current SCIM member and every written member of the group dirty (a resync). */
  async markAllDirty(rule: string, groupId: string): Promise<void> {
    // The selected columns are the table's, in its order (drizzle's insert-select requires it);
    // the constants are cast so PostgreSQL does not infer their types from the select list alone.
    await this.db
      .insert(groupMemberSync)
      .select(
        this.db
          .select({
            rule: sql`${rule}::text`.as("rule"),
            groupId: groupMembers.groupId,
            memberId: groupMembers.memberId,
            dn: sql`NULL::text`.as("dn"),
            dirty: sql`1::bigint`.as("dirty"),
            evict: sql`0`.as("evict"),
          })
          .from(groupMembers)
          .where(eq(groupMembers.groupId, groupId)),
      )
      .onConflictDoUpdate({ target: pairKey, set: { dirty: sql`${groupMemberSync.dirty} + 1` } });
    await this.db
      .update(groupMemberSync)
      .set({ dirty: sql`${groupMemberSync.dirty} + 1` })
      .where(and(eq(groupMemberSync.rule, rule), eq(groupMemberSync.groupId, groupId), eq(groupMemberSync.dirty, 0)));
  }

  /**
   * Pairs of the group needing a look, up to `limit` (-1: all, SQLite's LIMIT -1). PostgreSQL
   * refuses a negative LIMIT; drizzle happens to leave one out, but that is not a promise of its.
   */
  async dirtyRows(rule: string, groupId: string, limit: number): Promise<MemberSyncRow[]> {
    const q = this.db
      .select({ memberId: groupMemberSync.memberId, dn: groupMemberSync.dn, dirty: groupMemberSync.dirty, evict: groupMemberSync.evict })
      .from(groupMemberSync)
      .where(and(eq(groupMemberSync.rule, rule), eq(groupMemberSync.groupId, groupId), gt(groupMemberSync.dirty, 0)));
    const rows = limit < 0 ? await q : await q.limit(limit);
    return rows.map((r) => ({ ...r, evict: r.evict !== 0 }));
  }

  /** Records the DN now written for the member; clears the mark if nobody re-marked it meanwhile. */
  async settle(rule: string, groupId: string, row: MemberSyncRow, dn: string | null): Promise<void> {
    const key = pair(rule, groupId, row.memberId);
    if (dn === null) {
      if (changed(await this.db.delete(groupMemberSync).where(and(key, eq(groupMemberSync.dirty, row.dirty)))) === 0) {
        await this.db.update(groupMemberSync).set({ dn: null, evict: 0 }).where(key);
      }
      return;
    }
    const read = sql`${groupMemberSync.dirty} = ${row.dirty}`;
    await this.db
      .update(groupMemberSync)
      .set({
        dn,
        dirty: sql`CASE WHEN ${read} THEN 0 ELSE ${groupMemberSync.dirty} END`,
        evict: sql`CASE WHEN ${read} THEN 0 ELSE ${groupMemberSync.evict} END`,
      })
      .where(key);
  }

  async forgetGroup(rule: string, groupId: string): Promise<void> {
    await this.db.delete(groupMemberSync).where(and(eq(groupMemberSync.rule, rule), eq(groupMemberSync.groupId, groupId)));
  }

  async ofMember(memberId: string, rules: string[]): Promise<{ rule: string; groupId: string; dn: string | null }[]> {
    if (!rules.length) return [];
    return this.db
      .select({ rule: groupMemberSync.rule, groupId: groupMemberSync.groupId, dn: groupMemberSync.dn })
      .from(groupMemberSync)
      .where(and(eq(groupMemberSync.memberId, memberId), inArray(groupMemberSync.rule, rules)));
  }

  async memberType(groupId: string, memberId: string): Promise<"User" | "Group" | undefined> {
    const [row] = await this.db
      .select({ type: groupMembers.memberType })
      .from(groupMembers)
      .where(and(eq(groupMembers.groupId, groupId), eq(groupMembers.memberId, memberId)));
    return row?.type as "User" | "Group" | undefined;
  }

  async isUser(id: string): Promise<boolean> {
    return (await this.db.select({ one: sql`1` }).from(users).where(eq(users.id, id))).length > 0;
  }

  async groupsOf(memberId: string): Promise<string[]> {
    return (await this.db.select({ id: groupMembers.groupId }).from(groupMembers).where(eq(groupMembers.memberId, memberId))).map((r) => r.id);
  }

  async memberIds(groupId: string): Promise<string[]> {
    return (await this.db.select({ id: groupMembers.memberId }).from(groupMembers).where(eq(groupMembers.groupId, groupId))).map((r) => r.id);
  }

  /** The member's DN in a directory: the entry the first of `rules` (config order) holding one delivered. */
  async memberDn(kind: "User" | "Group", memberId: string, rules: string[]): Promise<string | undefined> {
    if (!rules.length) return undefined;
    const rows = await this.db
      .select({ rule: syncState.rule, dn: syncState.dn })
      .from(syncState)
      .where(and(eq(syncState.resourceType, kind), eq(syncState.resourceId, memberId), inArray(syncState.rule, rules), isNotNull(syncState.dn), ne(syncState.state, "out_of_scope")));
    for (const rule of rules) {
      const hit = rows.find((r) => r.rule === rule);
      if (hit?.dn) return hit.dn;
    }
    return undefined;
  }
}
