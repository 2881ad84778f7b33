/**
 * Group memberships as reconcile compares and repairs them, on PostgreSQL: the twin of
 * db/member-repairs.ts (read it for what each method is for), on the db/schema-pg.ts tables.
 */
import { and, eq, inArray, isNotNull, ne, sql } from "drizzle-orm";
import type { MemberRepairStore } from "../store.js";
import { groupMembers, groupMemberSync, syncState } from "../schema-pg.js";
import type { PgDb } from "./pg-db.js";

export class PgMemberRepairs implements MemberRepairStore {
  constructor(private readonly db: PgDb) {}

  async deliveredMemberDns(groupId: string, rules: string[]): Promise<{ id: string; dn: string }[]> {
    if (!rules.length) return [];
    return this.db
      .select({ id: groupMembers.memberId, dn: sql<string>`${syncState.dn}` })
      .from(groupMembers)
      .innerJoin(syncState, and(eq(syncState.resourceType, groupMembers.memberType), eq(syncState.resourceId, groupMembers.memberId)))
      .where(and(eq(groupMembers.groupId, groupId), inArray(syncState.rule, rules), isNotNull(syncState.dn), ne(syncState.state, "out_of_scope")));
  }

  async writtenMembers(rule: string, groupId: string): Promise<{ id: string; dn: string }[]> {
    return this.db
      .select({ id: groupMemberSync.memberId, dn: sql<string>`${groupMemberSync.dn}` })
      .from(groupMemberSync)
      .where(and(eq(groupMemberSync.rule, rule), eq(groupMemberSync.groupId, groupId), isNotNull(groupMemberSync.dn)));
  }

  async markUnwritten(rule: string, groupId: string, memberId: string): Promise<void> {
    await this.db
      .update(groupMemberSync)
      .set({ dn: null })
      .where(and(eq(groupMemberSync.rule, rule), eq(groupMemberSync.groupId, groupId), eq(groupMemberSync.memberId, memberId)));
  }

  /** A value in the entry that no member explains: a pair of its own, dirty and to evict. */
  async evictValue(rule: string, groupId: string, memberId: string, value: string): Promise<void> {
    await this.db
      .insert(groupMemberSync)
      .values({ rule, groupId, memberId, dn: value, dirty: 1, evict: 1 })
      .onConflictDoUpdate({
        target: [groupMemberSync.rule, groupMemberSync.groupId, groupMemberSync.memberId],
        set: { dn: sql`excluded.dn`, dirty: sql`${groupMemberSync.dirty} + 1`, evict: 1 },
      });
  }
}
