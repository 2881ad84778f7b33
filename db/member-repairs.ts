/**
 * Group memberships as reconcile compares and repairs them: the member DNs a group's entry should
 * hold in a directory (group_members joined with the member rules' sync_state), and the repairs
 * of group_member_sync rows that bring the entry back (db/member-sync.ts holds the delivery's own
 * reads and writes of that table).
 */
import { and, eq, inArray, isNotNull, ne, sql } from "drizzle-orm";
import type { Db } from "./sqlite-db.js";
import { groupMembers, groupMemberSync, syncState } from "./schema.js";

export class MemberRepairs {
  constructor(private readonly db: Db) {}

  /**
   * The group's SCIM members with the DN their own entry has under one of `rules` (the user and
   * group rules writing to the directory); a member not delivered there yet has none and is left out.
   */
  async deliveredMemberDns(groupId: string, rules: string[]): Promise<{ id: string; dn: string }[]> {
    if (!rules.length) return [];
    return this.db
      .select({ id: groupMembers.memberId, dn: sql<string>`${syncState.dn}` })
      .from(groupMembers)
      .innerJoin(syncState, and(eq(syncState.resourceType, groupMembers.memberType), eq(syncState.resourceId, groupMembers.memberId)))
      .where(and(eq(groupMembers.groupId, groupId), inArray(syncState.rule, rules), isNotNull(syncState.dn), ne(syncState.state, "out_of_scope")))
      .all();
  }

  /** Member values the rule has written into the group's entry, by member id. */
  async writtenMembers(rule: string, groupId: string): Promise<{ id: string; dn: string }[]> {
    return this.db
      .select({ id: groupMemberSync.memberId, dn: sql<string>`${groupMemberSync.dn}` })
      .from(groupMemberSync)
      .where(and(eq(groupMemberSync.rule, rule), eq(groupMemberSync.groupId, groupId), isNotNull(groupMemberSync.dn)))
      .all();
  }

  /** Forgets that the member's value was written, so the group's delivery adds it again. */
  async markUnwritten(rule: string, groupId: string, memberId: string): Promise<void> {
    this.db
      .update(groupMemberSync)
      .set({ dn: null })
      .where(and(eq(groupMemberSync.rule, rule), eq(groupMemberSync.groupId, groupId), eq(groupMemberSync.memberId, memberId)))
      .run();
  }

  /**
   * A value in the entry that no member explains: a pair of its own, keyed `memberId` (reconcile
   * uses `dn:<value>`), marked dirty and to evict, so the group's delivery removes the value.
   */
  async evictValue(rule: string, groupId: string, memberId: string, value: string): Promise<void> {
    this.db
      .insert(groupMemberSync)
      .values({ rule, groupId, memberId, dn: value, dirty: 1, evict: 1 })
      .onConflictDoUpdate({
        target: [groupMemberSync.rule, groupMemberSync.groupId, groupMemberSync.memberId],
        set: { dn: sql`excluded.dn`, dirty: sql`${groupMemberSync.dirty} + 1`, evict: 1 },
      })
      .run();
  }
}
