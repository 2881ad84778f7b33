/**
 * Queries for delivery: fanning the outbox out into per-(resource, rule) sync state, picking what
 * is due, and recording outcomes. All synchronous; callers wrap them in transactions.
 */
import type Database from "better-sqlite3";
import { and, eq, getTableColumns, inArray, sql } from "drizzle-orm";
import type { Db } from "./open.js";
import { changes, knownRules, pendingSecrets, syncState } from "./schema.js";

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
/** One outbox row as the fan-out reads it (changedSince), or as the write that made it reports it. */
export type OutboxEntry = GroupChange & { kind: string };

/** A resource the outbox changed, with its newest change seq. */
export interface ChangedResource {
  kind: string;
  id: string;
  seq: number;
}
export type SyncStatus = "pending" | "retrying" | "in_sync" | "failed" | "out_of_scope" | "needs_password";

const OUTBOX_CURSOR = "outbox";

/** A sync_state row's key as waiting_for names it. */
export function rowKey(row: Pick<SyncStateRow, "resourceType" | "resourceId" | "rule">): string {
  return `${row.resourceType}:${row.resourceId}:${row.rule}`;
}

/** What a fan-out takes from a stretch of the outbox. */
export interface OutboxBatch {
  /** The last seq covered (the next cursor). */
  upTo: number;
  /** Each changed resource once, with its newest change seq. */
  rows: ChangedResource[];
  /** Every Group change in order, with its member deltas and displayName around it. */
  groupChanges: GroupChange[];
}

/** Entries in seq order (non-empty) as a batch: latest change per resource, group changes apart. */
export function outboxBatch(entries: OutboxEntry[]): OutboxBatch {
  const latest = new Map<string, ChangedResource>();
  const groupChanges: GroupChange[] = [];
  for (const c of entries) {
    latest.set(`${c.kind}\u0000${c.id}`, { kind: c.kind, id: c.id, seq: c.seq });
    if (c.kind === "Group") {
      const { kind: _kind, ...g } = c;
      groupChanges.push(g);
    }
  }
  return { upTo: entries[entries.length - 1]!.seq, rows: [...latest.values()], groupChanges };
}

/**
 * sync_state columns as the row type names them: the hot queries below are plain prepared SQL
 * (measured: building each statement with drizzle was about a quarter of the worker's CPU per
 * delivered user), and rows come back in the same shape drizzle's select gives.
 */
const COLUMNS = Object.entries(getTableColumns(syncState)).map(([key, col]) => ({ key, name: col.name }));
const RETURN_ROW = COLUMNS.map((c) => (c.key === c.name ? c.name : `${c.name} AS ${c.key}`)).join(", ");
const SELECT_ROW = `SELECT ${RETURN_ROW} FROM sync_state`;
const COLUMN_NAME = new Map(COLUMNS.map((c) => [c.key, c.name] as const));
const PK = "resource_type = ? AND resource_id = ? AND rule = ?";

export class SyncQueries {
  private readonly sqlite: Database.Database;
  /** markPending calls so far: lets a fan-out tell whether it marked rows beyond those it reports. */
  marks = 0;

  constructor(private readonly db: Db) {
    this.sqlite = db.$client;
  }

  cursor(): number {
    const r = this.sqlite.prepare("SELECT seq FROM worker_cursor WHERE name = ?").get(OUTBOX_CURSOR) as { seq: number } | undefined;
    return r?.seq ?? 0;
  }

  /** The cursor and the newest outbox seq (0 when empty), in one read: whether a fan-out has anything to do (each pump and each inline fan-out asks). */
  outboxPosition(): { cursor: number; newest: number } {
    return this.sqlite
      .prepare("SELECT coalesce((SELECT seq FROM worker_cursor WHERE name = ?), 0) AS cursor, coalesce((SELECT max(seq) FROM changes), 0) AS newest")
      .get(OUTBOX_CURSOR) as { cursor: number; newest: number };
  }

  /** When the outbox row `seq` was committed (delivery lag), or undefined once pruned. */
  changedAt(seq: number): string | undefined {
    const r = this.sqlite.prepare("SELECT at FROM changes WHERE seq = ?").get(seq) as { at: string } | undefined;
    return r?.at;
  }

  setCursor(seq: number): void {
    this.sqlite.prepare("INSERT INTO worker_cursor (name, seq) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq").run(OUTBOX_CURSOR, seq);
  }

  /**
   * The outbox after `after`, up to `limit` changes, in one range read on the rowid: each changed
   * resource once with its newest change seq, and every Group change in order with its member
   * deltas (JSON id lists) and the displayName around it (what membership delivery and group-based
   * user rules need). `upTo` is the last seq covered (the next cursor). Latest-per-resource is kept
   * here, not by a GROUP BY: that made SQLite build a temporary b-tree on every fan-out (measured
   * about 60 us of a 1 ms PATCH); and the group details come with the same read instead of a
   * second one over the same range.
   */
  changedSince(after: number, limit: number): OutboxBatch {
    const changed = this.sqlite
      .prepare(
        `SELECT seq, resource_type AS kind, resource_id AS id, op,
                CASE WHEN resource_type = 'Group' THEN members_added END AS membersAdded,
                CASE WHEN resource_type = 'Group' THEN members_removed END AS membersRemoved,
                CASE WHEN resource_type = 'Group' THEN json_extract(before, '$.displayName') END AS displayBefore,
                CASE WHEN resource_type = 'Group' THEN json_extract(after, '$.displayName') END AS displayAfter
         FROM changes WHERE seq > ? ORDER BY seq LIMIT ?`,
      )
      .all(after, limit) as OutboxEntry[];
    return changed.length ? outboxBatch(changed) : { upTo: after, rows: [], groupChanges: [] };
  }

  /** Records an internal change (op refresh): a group's members need another look, e.g. a member's DN changed. */
  refreshGroup(groupId: string, memberIds: string[], at: string): void {
    this.db
      .insert(changes)
      .values({ resourceType: "Group", resourceId: groupId, op: "refresh", version: 0, at, membersAdded: JSON.stringify(memberIds) })
      .run();
  }

  /** Marks (resource, rule) pending up to `seq`; a new change also clears a permanent failure. Returns the row as marked. */
  markPending(kind: string, id: string, rule: string, target: string, seq: number, at: string): SyncStateRow {
    // max(): a batch may mark a row for an older change after a newer one (a member's change
    // marking its groups); the wanted seq never goes back, so an in-flight delivery still sees it moved.
    // RETURNING: the caller starting the delivery after the commit needs no second read.
    this.marks++;
    return this.sqlite
      .prepare(
        `INSERT INTO sync_state (resource_type, resource_id, rule, target, state, wanted_seq, updated) VALUES (?, ?, ?, ?, 'pending', ?, ?)
         ON CONFLICT (resource_type, resource_id, rule) DO UPDATE SET state = 'pending', wanted_seq = max(wanted_seq, excluded.wanted_seq),
         target = excluded.target, attempts = 0, next_attempt = NULL, updated = excluded.updated
         RETURNING ${RETURN_ROW}`,
      )
      .get(kind, id, rule, target, seq, at) as SyncStateRow;
  }

  takePendingSecret(userId: string): string | undefined {
    const row = this.sqlite.prepare("DELETE FROM pending_secrets WHERE user_id = ? RETURNING sealed").get(userId) as { sealed: string } | undefined;
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
    const inRules = rules.map(() => "?").join(",");
    const pending = this.sqlite
      .prepare(`${SELECT_ROW} WHERE state = 'pending' AND rule IN (${inRules}) ORDER BY wanted_seq LIMIT ?`)
      .all(...rules, limit) as SyncStateRow[];
    if (pending.length >= limit) return pending;
    const retrying = this.sqlite
      .prepare(`${SELECT_ROW} WHERE state = 'retrying' AND rule IN (${inRules}) AND (next_attempt IS NULL OR next_attempt <= ?) ORDER BY next_attempt LIMIT ?`)
      .all(...rules, now, limit - pending.length) as SyncStateRow[];
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
    return this.sqlite.prepare(`${SELECT_ROW} WHERE ${PK}`).get(kind, id, rule) as SyncStateRow | undefined;
  }

  update(kind: string, id: string, rule: string, set: Partial<SyncStateRow>): void {
    const keys = Object.keys(set).filter((k) => (set as Record<string, unknown>)[k] !== undefined);
    if (!keys.length) return;
    const assignments = keys.map((k) => {
      const name = COLUMN_NAME.get(k);
      if (!name) throw new Error(`sync_state has no column for ${k}`);
      return `${name} = ?`;
    });
    const values = keys.map((k) => (set as Record<string, unknown>)[k]) as (string | number | null)[];
    this.sqlite.prepare(`UPDATE sync_state SET ${assignments.join(", ")} WHERE ${PK}`).run(...values, kind, id, rule);
  }

  /**
   * Another resource's row on `target` that holds (or is about to hold) the DN with this key; the
   * same resource under another rule shares its entry and does not count.
   */
  dnHolder(target: string, dnKey: string, kind: string, id: string): SyncStateRow | undefined {
    return this.sqlite
      .prepare(`${SELECT_ROW} WHERE target = ? AND dn_key = ? AND NOT (resource_type = ? AND resource_id = ?) LIMIT 1`)
      .get(target, dnKey, kind, id) as SyncStateRow | undefined;
  }

  /** The entries one resource holds on a target, per rule (rows with a DN). */
  entriesOf(kind: string, id: string, target: string): { rule: string; dn: string; state: string }[] {
    return this.sqlite
      .prepare("SELECT rule, dn, state FROM sync_state WHERE resource_type = ? AND resource_id = ? AND target = ? AND dn IS NOT NULL")
      .all(kind, id, target) as { rule: string; dn: string; state: string }[];
  }

  /**
   * Rows holding a DN, streamed, but those of `skipKind` (rows that record no provenance): a
   * rule's own (`{ rule }`), or every other rule's on a target (`{ target, exceptRule }`).
   */
  rowsHoldingDns(skipKind: string, of: { rule: string } | { target: string; exceptRule: string }): IterableIterator<SyncStateRow & { dn: string }> {
    const [where, args] = "rule" in of ? ["rule = ?", [of.rule]] : ["target = ? AND rule != ?", [of.target, of.exceptRule]];
    return this.sqlite.prepare(`${SELECT_ROW} WHERE dn IS NOT NULL AND resource_type != ? AND ${where}`).iterate(skipKind, ...args) as IterableIterator<SyncStateRow & { dn: string }>;
  }

  /** Whether a row of `kind` for this DN of a target, under another rule, still waits for delivery. */
  waitingAt(kind: string, target: string, dnKey: string, exceptRule: string): boolean {
    return (
      this.sqlite
        .prepare("SELECT 1 FROM sync_state WHERE resource_type = ? AND target = ? AND dn_key = ? AND rule != ? AND state IN ('pending', 'retrying') LIMIT 1")
        .get(kind, target, dnKey, exceptRule) !== undefined
    );
  }

  /** Rows waiting for `holder` to leave a DN (waiting_for) become pending; how many did. */
  wakeWaitingFor(holder: string, at: string): number {
    return this.sqlite
      .prepare("UPDATE sync_state SET state = 'pending', waiting_for = NULL, attempts = 0, next_attempt = NULL, updated = ? WHERE waiting_for = ?")
      .run(at, holder).changes;
  }

  /** Retrying rows of one resource on `target` try again now (what they waited for happened). */
  retryNow(kind: string, id: string, target: string, at: string): number {
    return this.sqlite
      .prepare("UPDATE sync_state SET state = 'pending', next_attempt = NULL, updated = ? WHERE resource_type = ? AND resource_id = ? AND target = ? AND state = 'retrying'")
      .run(at, kind, id, target).changes;
  }

  /** Rows holding a DN without its key (written before dn_key existed): filled in at start-up. */
  rowsWithoutDnKey(limit: number): { resourceType: string; resourceId: string; rule: string; dn: string }[] {
    return this.sqlite
      .prepare("SELECT resource_type AS resourceType, resource_id AS resourceId, rule, dn FROM sync_state WHERE dn IS NOT NULL AND dn_key IS NULL LIMIT ?")
      .all(limit) as { resourceType: string; resourceId: string; rule: string; dn: string }[];
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
