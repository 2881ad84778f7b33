/**
 * Membership delivery's store: the group_member_sync table (see db/schema.ts), and the lookups a
 * group delivery needs: whether a member is still in the SCIM group, and the member's DN in a
 * directory (from the user or group rules' correlation in sync_state). These run once per member
 * per delivery (a 100,000-member group entering a directory is 200,000 of them), so the per-member
 * ones are drizzle queries prepared once. Writes happen inside Store.transaction.
 */
import { and, eq, gt, inArray, isNotNull, ne, sql } from "drizzle-orm";
import type { Db } from "./sqlite-db.js";
import { groupMembers, groupMemberSync, syncState, users } from "./schema.js";

export interface MemberSyncRow {
  memberId: string;
  /** DN this rule last wrote into the group for the member; null = none. */
  dn: string | null;
  /** Generation of the dirty mark, to clear only what was read. */
  dirty: number;
  evict: boolean;
}

const pair = and(
  eq(groupMemberSync.rule, sql.placeholder("rule")),
  eq(groupMemberSync.groupId, sql.placeholder("groupId")),
  eq(groupMemberSync.memberId, sql.placeholder("memberId")),
);

export class MemberSyncQueries {
  private readonly db: Db;
  private readonly q;
  /** Prepared per rule list (one list per directory: the rules writing to it). */
  private readonly byRules = new Map<string, { memberDn: { all(v: Record<string, unknown>): { rule: string; dn: string | null }[] }; ofMember: { all(v: Record<string, unknown>): { rule: string; groupId: string; dn: string | null }[] } }>();

  constructor(db: Db) {
    this.db = db;
    this.q = {
      // A new mark bumps the pair's generation, so a delivery that read an older one does not clear it.
      markDirty: db
        .insert(groupMemberSync)
        .values({ rule: sql.placeholder("rule"), groupId: sql.placeholder("groupId"), memberId: sql.placeholder("memberId"), dn: null, dirty: 1, evict: sql.placeholder("evict") })
        .onConflictDoUpdate({
          target: [groupMemberSync.rule, groupMemberSync.groupId, groupMemberSync.memberId],
          set: { dirty: sql`${groupMemberSync.dirty} + 1`, evict: sql`max(${groupMemberSync.evict}, excluded.evict)` },
        })
        .prepare(),
      dirtyRows: db
        .select({ memberId: groupMemberSync.memberId, dn: groupMemberSync.dn, dirty: groupMemberSync.dirty, evict: groupMemberSync.evict })
        .from(groupMemberSync)
        .where(and(eq(groupMemberSync.rule, sql.placeholder("rule")), eq(groupMemberSync.groupId, sql.placeholder("groupId")), gt(groupMemberSync.dirty, 0)))
        .limit(sql.placeholder("limit"))
        .prepare(),
      deleteSettled: db.delete(groupMemberSync).where(and(pair, eq(groupMemberSync.dirty, sql.placeholder("dirty")))).prepare(),
      forgetValue: db.update(groupMemberSync).set({ dn: null, evict: 0 }).where(pair).prepare(),
      settle: db
        .update(groupMemberSync)
        .set({
          dn: sql`${sql.placeholder("dn")}`,
          dirty: sql`CASE WHEN ${groupMemberSync.dirty} = ${sql.placeholder("dirty")} THEN 0 ELSE ${groupMemberSync.dirty} END`,
          evict: sql`CASE WHEN ${groupMemberSync.dirty} = ${sql.placeholder("dirty")} THEN 0 ELSE ${groupMemberSync.evict} END`,
        })
        .where(pair)
        .prepare(),
      memberType: db
        .select({ type: groupMembers.memberType })
        .from(groupMembers)
        .where(and(eq(groupMembers.groupId, sql.placeholder("groupId")), eq(groupMembers.memberId, sql.placeholder("memberId"))))
        .prepare(),
      isUser: db.select({ one: sql`1` }).from(users).where(eq(users.id, sql.placeholder("id"))).prepare(),
      groupsOf: db.select({ id: groupMembers.groupId }).from(groupMembers).where(eq(groupMembers.memberId, sql.placeholder("id"))).prepare(),
      memberIds: db.select({ id: groupMembers.memberId }).from(groupMembers).where(eq(groupMembers.groupId, sql.placeholder("id"))).prepare(),
    };
  }

  private ofRules(rules: string[]) {
    const key = rules.join("\u0000");
    let q = this.byRules.get(key);
    if (!q) {
      q = {
        memberDn: this.db
          .select({ rule: syncState.rule, dn: syncState.dn })
          .from(syncState)
          .where(
            and(
              eq(syncState.resourceType, sql.placeholder("kind")),
              eq(syncState.resourceId, sql.placeholder("id")),
              inArray(syncState.rule, rules),
              isNotNull(syncState.dn),
              ne(syncState.state, "out_of_scope"),
            ),
          )
          .prepare(),
        ofMember: this.db
          .select({ rule: groupMemberSync.rule, groupId: groupMemberSync.groupId, dn: groupMemberSync.dn })
          .from(groupMemberSync)
          .where(and(eq(groupMemberSync.memberId, sql.placeholder("id")), inArray(groupMemberSync.rule, rules)))
          .prepare(),
      };
      this.byRules.set(key, q);
    }
    return q;
  }

  /** Asks for (rule, group, member) to be looked at again; `evict` asks for its value to go. */
  async markDirty(rule: string, groupId: string, memberId: string, evict = false): Promise<void> {
    this.q.markDirty.run({ rule, groupId, memberId, evict: evict ? 1 : 0 });
  }

  /** Marks every current SCIM member and every written member of the group dirty (a resync). */
  async markAllDirty(rule: string, groupId: string): Promise<void> {
    this.db
      .insert(groupMemberSync)
      .select(
        this.db
          .select({ rule: sql`${rule}`.as("rule"), groupId: groupMembers.groupId, memberId: groupMembers.memberId, dn: sql`NULL`.as("dn"), dirty: sql`1`.as("dirty"), evict: sql`0`.as("evict") })
          .from(groupMembers)
          .where(eq(groupMembers.groupId, groupId)),
      )
      .onConflictDoUpdate({ target: [groupMemberSync.rule, groupMemberSync.groupId, groupMemberSync.memberId], set: { dirty: sql`${groupMemberSync.dirty} + 1` } })
      .run();
    this.db
      .update(groupMemberSync)
      .set({ dirty: sql`${groupMemberSync.dirty} + 1` })
      .where(and(eq(groupMemberSync.rule, rule), eq(groupMemberSync.groupId, groupId), eq(groupMemberSync.dirty, 0)))
      .run();
  }

  /** Pairs of the group needing a look, up to `limit` (-1: all; index range on (rule, group_id, dirty)). */
  async dirtyRows(rule: string, groupId: string, limit: number): Promise<MemberSyncRow[]> {
    return this.q.dirtyRows.all({ rule, groupId, limit }).map((r) => ({ ...r, evict: r.evict !== 0 }));
  }

  /** Records the DN now written for the member; clears the mark if nobody re-marked it meanwhile. */
  async settle(rule: string, groupId: string, row: MemberSyncRow, dn: string | null): Promise<void> {
    const key = { rule, groupId, memberId: row.memberId };
    if (dn === null) {
      if (this.q.deleteSettled.run({ ...key, dirty: row.dirty }).changes === 0) this.q.forgetValue.run(key);
      return;
    }
    this.q.settle.run({ ...key, dn, dirty: row.dirty });
  }

  /** Forgets a group's memberships for a rule (the group entry was deleted). */
  async forgetGroup(rule: string, groupId: string): Promise<void> {
    this.db.delete(groupMemberSync).where(and(eq(groupMemberSync.rule, rule), eq(groupMemberSync.groupId, groupId))).run();
  }

  /** Memberships of a member under the given group rules: the groups whose entry holds its DN, or will. */
  async ofMember(memberId: string, rules: string[]): Promise<{ rule: string; groupId: string; dn: string | null }[]> {
    if (!rules.length) return [];
    return this.ofRules(rules).ofMember.all({ id: memberId });
  }

  /** Whether `memberId` is (still) a member of the SCIM group, and as what. */
  async memberType(groupId: string, memberId: string): Promise<"User" | "Group" | undefined> {
    return this.q.memberType.get({ groupId, memberId })?.type as "User" | "Group" | undefined;
  }

  /** Whether a User with this id exists (a member id may name a group). */
  async isUser(id: string): Promise<boolean> {
    return this.q.isUser.get({ id }) !== undefined;
  }

  /** Groups that hold `memberId` in SCIM. */
  async groupsOf(memberId: string): Promise<string[]> {
    return this.q.groupsOf.all({ id: memberId }).map((r) => r.id);
  }

  /** Current SCIM member ids of a group (for fanning a rename out to group-based user rules). */
  async memberIds(groupId: string): Promise<string[]> {
    return this.q.memberIds.all({ id: groupId }).map((r) => r.id);
  }

  /**
   * The member's DN in a directory: the entry one of `rules` (the rules writing to that directory,
   * in config order) delivered for it and still holds. Undefined until its delivery has created
   * the entry.
   */
  async memberDn(kind: "User" | "Group", memberId: string, rules: string[]): Promise<string | undefined> {
    if (!rules.length) return undefined;
    const rows = this.ofRules(rules).memberDn.all({ kind, id: memberId });
    // Several rules may hold an entry for the member in one directory: the first in config order wins.
    for (const rule of rules) {
      const hit = rows.find((r) => r.rule === rule);
      if (hit?.dn) return hit.dn;
    }
    return undefined;
  }
}
