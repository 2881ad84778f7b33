/**
 * Queries for delivery: fanning the outbox out into per-(resource, rule) sync state, picking what
 * is due, and recording outcomes. All synchronous; callers wrap them in transactions.
 */
import { and, asc, eq, gt, inArray, isNull, lte, max, or, sql } from "drizzle-orm";
import type { Db } from "./open.js";
import { changes, knownRules, pendingSecrets, syncState, workerCursor } from "./schema.js";

export type SyncStateRow = typeof syncState.$inferSelect;

export interface GroupChange {
  seq: number;
  id: string;
  /** create | update | delete | resync | refresh */
  op: string;
  membersAdded: string | null;
  membersRemoved: string | null;
  displayBefore: string | null;
  displayAfter: string | null;
}
export type SyncStatus = "pending" | "retrying" | "in_sync" | "failed" | "out_of_scope";

const OUTBOX_CURSOR = "outbox";

export class SyncQueries {
  constructor(private readonly db: Db) {}

  cursor(): number {
    return this.db.select({ seq: workerCursor.seq }).from(workerCursor).where(eq(workerCursor.name, OUTBOX_CURSOR)).get()?.seq ?? 0;
  }

  setCursor(seq: number): void {
    this.db
      .insert(workerCursor)
      .values({ name: OUTBOX_CURSOR, seq })
      .onConflictDoUpdate({ target: workerCursor.name, set: { seq } })
      .run();
  }

  /**
   * Resources changed after `after`, with the newest change seq of each, for up to `limit` changes;
   * `upTo` is the last seq covered (the next cursor).
   */
  changedSince(after: number, limit: number): { upTo: number; rows: { kind: string; id: string; seq: number }[] } {
    const upTo = this.db.get<{ upTo: number | null }>(
      sql`SELECT max(seq) AS upTo FROM (SELECT seq FROM changes WHERE seq > ${after} ORDER BY seq LIMIT ${limit})`,
    ).upTo;
    if (upTo === null || upTo === undefined) return { upTo: after, rows: [] };
    const rows = this.db
      .select({ kind: changes.resourceType, id: changes.resourceId, seq: max(changes.seq) })
      .from(changes)
      .where(and(gt(changes.seq, after), lte(changes.seq, upTo)))
      .groupBy(changes.resourceType, changes.resourceId)
      .all()
      .map((r) => ({ kind: r.kind, id: r.id, seq: r.seq ?? upTo }));
    return { upTo, rows };
  }

  /**
   * Group changes in (after, upTo] in order, with their member deltas (JSON id lists) and the
   * displayName around the change: what membership delivery and group-based user rules need.
   */
  groupChanges(after: number, upTo: number): GroupChange[] {
    return this.db.all<GroupChange>(sql`
      SELECT seq, resource_id AS id, op, members_added AS membersAdded, members_removed AS membersRemoved,
             json_extract(before, '$.displayName') AS displayBefore, json_extract(after, '$.displayName') AS displayAfter
      FROM changes WHERE seq > ${after} AND seq <= ${upTo} AND resource_type = 'Group' ORDER BY seq`);
  }

  /** Records an internal change (op refresh): a group's members need another look, e.g. a member's DN changed. */
  refreshGroup(groupId: string, memberIds: string[], at: string): void {
    this.db
      .insert(changes)
      .values({ resourceType: "Group", resourceId: groupId, op: "refresh", version: 0, at, membersAdded: JSON.stringify(memberIds) })
      .run();
  }

  /** Marks (resource, rule) pending up to `seq`; a new change also clears a permanent failure. */
  markPending(kind: string, id: string, rule: string, target: string, seq: number, at: string): void {
    this.db
      .insert(syncState)
      .values({ resourceType: kind, resourceId: id, rule, target, state: "pending", wantedSeq: seq, updated: at })
      .onConflictDoUpdate({
        target: [syncState.resourceType, syncState.resourceId, syncState.rule],
        // max(): a batch may mark a row for an older change after a newer one (a member's change
        // marking its groups); the wanted seq never goes back, so an in-flight delivery still sees it moved.
        set: { state: "pending", wantedSeq: sql`max(${syncState.wantedSeq}, excluded.wanted_seq)`, target, attempts: 0, nextAttempt: null, updated: at },
      })
      .run();
  }

  takePendingSecret(userId: string): string | undefined {
    const row = this.db.select().from(pendingSecrets).where(eq(pendingSecrets.userId, userId)).get();
    if (row) this.db.delete(pendingSecrets).where(eq(pendingSecrets.userId, userId)).run();
    return row?.sealed;
  }

  putPendingSecret(userId: string, sealed: string, at: string): void {
    this.db
      .insert(pendingSecrets)
      .values({ userId, sealed, at })
      .onConflictDoUpdate({ target: pendingSecrets.userId, set: { sealed, at } })
      .run();
  }

  setSecret(kind: string, id: string, rule: string, sealed: string | null): void {
    this.db
      .update(syncState)
      .set({ secret: sealed })
      .where(and(eq(syncState.resourceType, kind), eq(syncState.resourceId, id), eq(syncState.rule, rule)))
      .run();
  }

  /**
   * Rows due for delivery: pending ones oldest change first, then retrying ones whose time has
   * come. Two index range scans (state, wanted_seq) and (state, next_attempt), never a sort of the
   * whole backlog: this runs on every pump.
   */
  due(now: string, rules: string[], limit: number): SyncStateRow[] {
    if (!rules.length) return [];
    const pending = this.db
      .select()
      .from(syncState)
      .where(and(eq(syncState.state, "pending"), inArray(syncState.rule, rules)))
      .orderBy(asc(syncState.wantedSeq))
      .limit(limit)
      .all();
    if (pending.length >= limit) return pending;
    const retrying = this.db
      .select()
      .from(syncState)
      .where(and(eq(syncState.state, "retrying"), inArray(syncState.rule, rules), or(isNull(syncState.nextAttempt), lte(syncState.nextAttempt, now))))
      .orderBy(asc(syncState.nextAttempt))
      .limit(limit - pending.length)
      .all();
    return [...pending, ...retrying];
  }

  /** Earliest retry time among retrying rows, to sleep until then. */
  nextRetry(rules: string[]): string | undefined {
    if (!rules.length) return undefined;
    const r = this.db
      .select({ at: sql<string | null>`min(${syncState.nextAttempt})` })
      .from(syncState)
      .where(and(inArray(syncState.rule, rules), eq(syncState.state, "retrying")))
      .get();
    return r?.at ?? undefined;
  }

  get(kind: string, id: string, rule: string): SyncStateRow | undefined {
    return this.db
      .select()
      .from(syncState)
      .where(and(eq(syncState.resourceType, kind), eq(syncState.resourceId, id), eq(syncState.rule, rule)))
      .get();
  }

  update(kind: string, id: string, rule: string, set: Partial<SyncStateRow>): void {
    this.db
      .update(syncState)
      .set(set)
      .where(and(eq(syncState.resourceType, kind), eq(syncState.resourceId, id), eq(syncState.rule, rule)))
      .run();
  }

  remove(kind: string, id: string, rule: string): void {
    this.db
      .delete(syncState)
      .where(and(eq(syncState.resourceType, kind), eq(syncState.resourceId, id), eq(syncState.rule, rule)))
      .run();
  }

  rowsOfRule(rule: string): SyncStateRow[] {
    return this.db.select().from(syncState).where(eq(syncState.rule, rule)).all();
  }

  counts(): { rule: string; target: string; state: string; n: number }[] {
    return this.db
      .select({ rule: syncState.rule, target: syncState.target, state: syncState.state, n: sql<number>`count(*)` })
      .from(syncState)
      .groupBy(syncState.rule, syncState.target, syncState.state)
      .all();
  }

  // ---- rules as last configured (for deprovisioning a rule removed from config) ----

  knownRules(): { name: string; kind: string; target: string; config: string }[] {
    return this.db.select({ name: knownRules.name, kind: knownRules.kind, target: knownRules.target, config: knownRules.config }).from(knownRules).all();
  }

  rememberRule(name: string, kind: string, target: string, config: unknown, at: string): void {
    const json = JSON.stringify(config);
    this.db
      .insert(knownRules)
      .values({ name, kind, target, config: json, lastSeen: at })
      .onConflictDoUpdate({ target: knownRules.name, set: { kind, target, config: json, lastSeen: at } })
      .run();
  }

  forgetRule(name: string): void {
    this.db.delete(knownRules).where(eq(knownRules.name, name)).run();
  }
}
