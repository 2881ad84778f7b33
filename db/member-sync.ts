/**
 * Queries for membership delivery (issue 5): the group_member_sync table (see db/schema.ts), and
 * the lookups a group delivery needs: whether a member is still in the SCIM group, and the member's
 * DN in a directory (from the user or group rules' correlation in sync_state). Plain prepared SQL:
 * these run once per member per delivery, and a 100,000-member group must stay cheap. All
 * synchronous; callers wrap writes in transactions.
 */
import type Database from "better-sqlite3";

export interface MemberSyncRow {
  memberId: string;
  /** DN this rule last wrote into the group for the member; null = none. */
  dn: string | null;
  /** Generation of the dirty mark, to clear only what was read. */
  dirty: number;
  evict: boolean;
}

const placeholders = (n: number) => Array.from({ length: n }, () => "?").join(",");

export class MemberSyncQueries {
  constructor(private readonly sqlite: Database.Database) {}

  /** Asks for (rule, group, member) to be looked at again; `evict` asks for its value to go. */
  markDirty(rule: string, groupId: string, memberId: string, evict = false): void {
    this.sqlite
      .prepare(
        `INSERT INTO group_member_sync (rule, group_id, member_id, dn, dirty, evict) VALUES (?, ?, ?, NULL, 1, ?)
         ON CONFLICT (rule, group_id, member_id) DO UPDATE SET dirty = dirty + 1, evict = max(evict, excluded.evict)`,
      )
      .run(rule, groupId, memberId, evict ? 1 : 0);
  }

  /** Marks every current SCIM member and every written member of the group dirty (a resync). */
  markAllDirty(rule: string, groupId: string): void {
    this.sqlite
      .prepare(
        `INSERT INTO group_member_sync (rule, group_id, member_id, dn, dirty, evict)
         SELECT ?, group_id, member_id, NULL, 1, 0 FROM group_members WHERE group_id = ? AND true
         ON CONFLICT (rule, group_id, member_id) DO UPDATE SET dirty = dirty + 1`,
      )
      .run(rule, groupId);
    this.sqlite.prepare(`UPDATE group_member_sync SET dirty = dirty + 1 WHERE rule = ? AND group_id = ? AND dirty = 0`).run(rule, groupId);
  }

  /** Pairs of the group needing a look, up to `limit` (index range on (rule, group_id, dirty)). */
  dirtyRows(rule: string, groupId: string, limit: number): MemberSyncRow[] {
    const rows = this.sqlite
      .prepare(`SELECT member_id AS memberId, dn, dirty, evict FROM group_member_sync WHERE rule = ? AND group_id = ? AND dirty > 0 LIMIT ?`)
      .all(rule, groupId, limit) as { memberId: string; dn: string | null; dirty: number; evict: number }[];
    return rows.map((r) => ({ ...r, evict: r.evict !== 0 }));
  }

  /** Records the DN now written for the member; clears the mark if nobody re-marked it meanwhile. */
  settle(rule: string, groupId: string, row: MemberSyncRow, dn: string | null): void {
    if (dn === null) {
      const gone = this.sqlite
        .prepare(`DELETE FROM group_member_sync WHERE rule = ? AND group_id = ? AND member_id = ? AND dirty = ?`)
        .run(rule, groupId, row.memberId, row.dirty);
      if (gone.changes === 0) {
        this.sqlite.prepare(`UPDATE group_member_sync SET dn = NULL, evict = 0 WHERE rule = ? AND group_id = ? AND member_id = ?`).run(rule, groupId, row.memberId);
      }
      return;
    }
    this.sqlite
      .prepare(
        `UPDATE group_member_sync SET dn = ?, dirty = CASE WHEN dirty = ? THEN 0 ELSE dirty END, evict = CASE WHEN dirty = ? THEN 0 ELSE evict END
         WHERE rule = ? AND group_id = ? AND member_id = ?`,
      )
      .run(dn, row.dirty, row.dirty, rule, groupId, row.memberId);
  }

  /** Forgets a group's memberships for a rule (the group entry was deleted). */
  forgetGroup(rule: string, groupId: string): void {
    this.sqlite.prepare(`DELETE FROM group_member_sync WHERE rule = ? AND group_id = ?`).run(rule, groupId);
  }

  /** Memberships of a member under the given group rules: the groups whose entry holds its DN, or will. */
  ofMember(memberId: string, rules: string[]): { rule: string; groupId: string; dn: string | null }[] {
    if (!rules.length) return [];
    return this.sqlite
      .prepare(`SELECT rule, group_id AS groupId, dn FROM group_member_sync WHERE member_id = ? AND rule IN (${placeholders(rules.length)})`)
      .all(memberId, ...rules) as { rule: string; groupId: string; dn: string | null }[];
  }

  /** Whether `memberId` is (still) a member of the SCIM group, and as what. */
  memberType(groupId: string, memberId: string): "User" | "Group" | undefined {
    const r = this.sqlite.prepare(`SELECT member_type AS t FROM group_members WHERE group_id = ? AND member_id = ?`).get(groupId, memberId) as { t: "User" | "Group" } | undefined;
    return r?.t;
  }

  /** Whether a User with this id exists (a member id may name a group). */
  isUser(id: string): boolean {
    return this.sqlite.prepare(`SELECT 1 AS x FROM users WHERE id = ?`).get(id) !== undefined;
  }

  /** Groups that hold `memberId` in SCIM. */
  groupsOf(memberId: string): string[] {
    return (this.sqlite.prepare(`SELECT group_id AS g FROM group_members WHERE member_id = ?`).all(memberId) as { g: string }[]).map((r) => r.g);
  }

  /** Current SCIM member ids of a group (for fanning a rename out to group-based user rules). */
  memberIds(groupId: string): string[] {
    return (this.sqlite.prepare(`SELECT member_id AS m FROM group_members WHERE group_id = ?`).all(groupId) as { m: string }[]).map((r) => r.m);
  }

  /**
   * The member's DN in a directory: the entry one of `rules` (the rules writing to that directory,
   * in config order) delivered for it and still holds. Undefined until its delivery has created
   * the entry.
   */
  memberDn(kind: "User" | "Group", memberId: string, rules: string[]): string | undefined {
    if (!rules.length) return undefined;
    const rows = this.sqlite
      .prepare(
        `SELECT rule, dn FROM sync_state WHERE resource_type = ? AND resource_id = ? AND rule IN (${placeholders(rules.length)})
         AND dn IS NOT NULL AND state != 'out_of_scope'`,
      )
      .all(kind, memberId, ...rules) as { rule: string; dn: string }[];
    // Several rules may hold an entry for the member in one directory: the first in config order wins.
    for (const rule of rules) {
      const hit = rows.find((r) => r.rule === rule);
      if (hit) return hit.dn;
    }
    return undefined;
  }
}
