/**
 * The delivery store: fanning the outbox out into per-(resource, rule) sync state, picking what is
 * due, and recording outcomes. Writes happen inside Store.transaction.
 */
import { and, eq, gt, inArray, isNotNull, isNull, lte, ne, not, notInArray, or, sql } from "drizzle-orm";
import type { Db } from "./sqlite-db.js";
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
/** One outbox row as the fan-out reads it (unfanned), or as the write that made it reports it. */
export type OutboxEntry = GroupChange & { kind: string };

/** A resource the outbox changed, with its newest change seq. */
export interface ChangedResource {
  kind: string;
  id: string;
  seq: number;
}
export type SyncStatus = "pending" | "retrying" | "in_sync" | "failed" | "out_of_scope" | "needs_password";

/** A sync_state row's key as waiting_for names it. */
export function rowKey(row: Pick<SyncStateRow, "resourceType" | "resourceId" | "rule">): string {
  return `${row.resourceType}:${row.resourceId}:${row.rule}`;
}

/**
 * A delivery lease as a claim grants it: the claiming worker, until when (ISO time), and the
 * claim's fencing token (an outcome is recorded only while the row still bears it).
 */
export interface Lease {
  owner: string;
  until: string;
  token: number;
}

/** The Store.singleton a worker holds while it runs: its leases' owner is alive while it is held. */
export function workerPresenceName(owner: string): string {
  return `worker ${owner}`;
}

/**
 * A target's limit of deliveries across all workers (`targets[].globalConcurrency`): a claim takes
 * no more rows than leave the target's live leases at `max`.
 */
export interface TargetCap {
  target: string;
  max: number;
}

/** A row's lease columns, ended: written by a release and with every recorded outcome. */
export const NO_LEASE = { leaseOwner: null, leaseUntil: null, leaseToken: null } as const;

interface DueQueries {
  pending: { all(v: Record<string, unknown>): SyncStateRow[] };
  retrying: { all(v: Record<string, unknown>): SyncStateRow[] };
}

/** What a fan-out takes from the outbox. */
export interface OutboxBatch {
  /** The seqs of every change taken, to be marked fanned out in the same transaction. */
  seqs: number[];
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
  return { seqs: entries.map((c) => c.seq), rows: [...latest.values()], groupChanges };
}

const pk = {
  resourceType: sql.placeholder("kind"),
  resourceId: sql.placeholder("id"),
  rule: sql.placeholder("rule"),
};
const byPk = and(eq(syncState.resourceType, pk.resourceType), eq(syncState.resourceId, pk.resourceId), eq(syncState.rule, pk.rule));

/** Rows streamed by rowsHoldingDns are read this many at a time (keyset on the primary key). */
const HOLDING_PAGE = 1000;

/**
 * sync_state, the outbox's fan-out and pending secrets: fanning the outbox out into per-(resource,
 * rule) rows, picking what is due, recording outcomes. The statements on the delivery path are
 * drizzle queries prepared once per connection (building each one again was about a quarter of the
 * worker's CPU per delivered user, measured with bench/provisioning.ts); the rest are built when
 * called.
 */
export class SyncQueries {
  private readonly q;
  /** Prepared UPDATEs by the set of columns they write (the recorder writes a few fixed sets). */
  private readonly updates = new Map<string, { run(values: Record<string, unknown>): unknown }>();
  /** Prepared due queries by rule list (one list per target), and the same leaving leased rows out. */
  private readonly dueQueries = new Map<string, DueQueries>();
  private readonly claimQueries = new Map<string, DueQueries>();

  constructor(private readonly db: Db) {
    this.q = {
      anyUnfanned: db.select({ one: sql`1` }).from(changes).where(eq(changes.fannedOut, false)).limit(1).prepare(),
      newest: db.select({ seq: sql<number | null>`max(${changes.seq})` }).from(changes).prepare(),
      changedAt: db.select({ at: changes.at }).from(changes).where(eq(changes.seq, sql.placeholder("seq"))).prepare(),
      unfanned: db
        .select({
          seq: changes.seq,
          kind: changes.resourceType,
          id: changes.resourceId,
          op: changes.op,
          membersAdded: sql<string | null>`CASE WHEN ${changes.resourceType} = 'Group' THEN ${changes.membersAdded} END`,
          membersRemoved: sql<string | null>`CASE WHEN ${changes.resourceType} = 'Group' THEN ${changes.membersRemoved} END`,
          displayBefore: sql<string | null>`CASE WHEN ${changes.resourceType} = 'Group' THEN json_extract(${changes.before}, '$.displayName') END`,
          displayAfter: sql<string | null>`CASE WHEN ${changes.resourceType} = 'Group' THEN json_extract(${changes.after}, '$.displayName') END`,
        })
        .from(changes)
        .where(eq(changes.fannedOut, false))
        .orderBy(changes.seq)
        .limit(sql.placeholder("limit"))
        .prepare(),
      // max(): a batch may mark a row for an older change after a newer one (a member's change
      // marking its groups); the wanted seq never goes back, so an in-flight delivery still sees it moved.
      markPending: db
        .insert(syncState)
        .values({ ...pk, target: sql.placeholder("target"), state: "pending", wantedSeq: sql.placeholder("seq"), updated: sql`${sql.placeholder("at")}` })
        .onConflictDoUpdate({
          target: [syncState.resourceType, syncState.resourceId, syncState.rule],
          set: { state: "pending", wantedSeq: sql`max(${syncState.wantedSeq}, excluded.wanted_seq)`, target: sql`excluded.target`, attempts: 0, nextAttempt: null, updated: sql`excluded.updated` },
        })
        .prepare(),
      takePendingSecret: db.delete(pendingSecrets).where(eq(pendingSecrets.userId, sql.placeholder("id"))).returning({ sealed: pendingSecrets.sealed }).prepare(),
      get: db.select().from(syncState).where(byPk).prepare(),
      dnHolder: db
        .select()
        .from(syncState)
        .where(
          and(
            eq(syncState.target, sql.placeholder("target")),
            eq(syncState.dnKey, sql.placeholder("dnKey")),
            not(and(eq(syncState.resourceType, pk.resourceType), eq(syncState.resourceId, pk.resourceId))!),
          ),
        )
        .limit(1)
        .prepare(),
      entriesOf: db
        .select({ rule: syncState.rule, dn: sql<string>`${syncState.dn}`, state: syncState.state })
        .from(syncState)
        .where(and(eq(syncState.resourceType, pk.resourceType), eq(syncState.resourceId, pk.resourceId), eq(syncState.target, sql.placeholder("target")), isNotNull(syncState.dn)))
        .prepare(),
      wakeWaitingFor: db
        .update(syncState)
        .set({ state: "pending", waitingFor: null, attempts: 0, nextAttempt: null, updated: sql`${sql.placeholder("at")}` })
        .where(eq(syncState.waitingFor, sql.placeholder("holder")))
        .prepare(),
      lease: db
        .update(syncState)
        .set({ leaseOwner: sql`${sql.placeholder("owner")}`, leaseUntil: sql`${sql.placeholder("until")}`, leaseToken: sql`${sql.placeholder("token")}` })
        .where(byPk)
        .prepare(),
      retryNow: db
        .update(syncState)
        .set({ state: "pending", nextAttempt: null, updated: sql`${sql.placeholder("at")}` })
        .where(and(eq(syncState.resourceType, pk.resourceType), eq(syncState.resourceId, pk.resourceId), eq(syncState.target, sql.placeholder("target")), eq(syncState.state, "retrying")))
        .prepare(),
      remove: db.delete(syncState).where(byPk).prepare(),
    };
  }

  /** Whether committed outbox rows wait to be fanned out (one index probe; each pump asks). */
  async hasUnfanned(): Promise<boolean> {
    return this.q.anyUnfanned.get() !== undefined;
  }

  /** The newest outbox seq (0 when empty). */
  async newestSeq(): Promise<number> {
    return this.q.newest.get()?.seq ?? 0;
  }

  /** Outbox rows not fanned out yet, counted up to `cap` (the backlog bound reads it on every write). */
  async unfannedUpTo(cap: number): Promise<number> {
    return this.db.get<{ n: number }>(sql`SELECT count(*) AS n FROM (SELECT 1 FROM ${changes} WHERE ${changes.fannedOut} = 0 LIMIT ${cap})`).n;
  }

  /** When the outbox row `seq` was committed (delivery lag), or undefined once pruned. */
  async changedAt(seq: number): Promise<string | undefined> {
    return this.q.changedAt.get({ seq })?.at;
  }

  /**
   * Up to `limit` outbox rows not fanned out yet, oldest first, in one read on the partial index:
   * each changed resource once with its newest change seq, and every Group change in order with
   * its member deltas (JSON id lists) and the displayName around it (what membership delivery and
   * group-based user rules need). Latest-per-resource is kept here, not by a GROUP BY: that made
   * SQLite build a temporary b-tree on every fan-out (measured about 60 us of a 1 ms PATCH); and
   * the group details come with the same read instead of a second one.
   */
  async unfanned(limit: number): Promise<OutboxBatch> {
    const changed = this.q.unfanned.all({ limit });
    return changed.length ? outboxBatch(changed) : { seqs: [], rows: [], groupChanges: [] };
  }

  /**
   * Marks exactly these outbox rows fanned out (never a range: a row with a lower seq that
   * committed after the read is not among them, and is taken by the next fan-out).
   */
  async markFanned(seqs: number[]): Promise<void> {
    // In slices: SQLite binds at most 32,766 parameters in one statement.
    for (let i = 0; i < seqs.length; i += 10_000) {
      this.db.update(changes).set({ fannedOut: true }).where(inArray(changes.seq, seqs.slice(i, i + 10_000))).run();
    }
  }

  /** Records an internal change (op refresh): a group's members need another look, e.g. a member's DN changed. */
  async refreshGroup(groupId: string, memberIds: string[], at: string): Promise<void> {
    this.db
      .insert(changes)
      .values({ resourceType: "Group", resourceId: groupId, op: "refresh", version: 0, at, membersAdded: JSON.stringify(memberIds) })
      .run();
  }

  /** Marks (resource, rule) pending up to `seq`; a new change also clears a permanent failure. */
  async markPending(kind: string, id: string, rule: string, target: string, seq: number, at: string): Promise<void> {
    this.q.markPending.run({ kind, id, rule, target, seq, at });
  }

  async takePendingSecret(userId: string): Promise<string | undefined> {
    return this.q.takePendingSecret.get({ id: userId })?.sealed;
  }

  async putPendingSecret(userId: string, sealed: string, at: string): Promise<void> {
    this.db
      .insert(pendingSecrets)
      .values({ userId, sealed, at })
      .onConflictDoUpdate({ target: pendingSecrets.userId, set: { sealed, at } })
      .run();
  }

  async setSecret(kind: string, id: string, rule: string, sealed: string | null): Promise<void> {
    await this.update(kind, id, rule, { secret: sealed });
  }

  /**
   * Rows due for delivery: pending ones oldest change first, then retrying ones whose time has
   * come. Two index range scans (state, wanted_seq) and (state, next_attempt), never a sort of the
   * whole backlog.
   */
  async due(now: string, rules: string[], limit: number): Promise<SyncStateRow[]> {
    return this.dueRows(this.dueQueries, now, rules, limit, false);
  }

  /**
   * Leases rows due for delivery (as `due`, leaving out rows another claim holds and whose lease
   * has not run out) to `lease`, and returns them as leased. Inside a transaction: SQLite's
   * holds the database's write lock from its start (BEGIN IMMEDIATE), so no other claim reads
   * the same rows in between.
   */
  async claim(now: string, rules: string[], limit: number, lease: Lease, cap?: TargetCap): Promise<SyncStateRow[]> {
    if (cap) limit = Math.min(limit, cap.max - (await this.liveLeasesOn(cap.target, now)));
    if (limit <= 0) return [];
    const rows = this.dueRows(this.claimQueries, now, rules, limit, true);
    for (const row of rows) {
      this.q.lease.run({ kind: row.resourceType, id: row.resourceId, rule: row.rule, ...lease });
      Object.assign(row, { leaseOwner: lease.owner, leaseUntil: lease.until, leaseToken: lease.token });
    }
    return rows;
  }

  /** Rows of `target` under a lease that has not run out (deliveries claimed, queued or in flight). */
  async liveLeasesOn(target: string, now: string): Promise<number> {
    const [r] = this.db.select({ n: sql<number>`count(*)` }).from(syncState).where(and(eq(syncState.target, target), isNotNull(syncState.leaseOwner), gt(syncState.leaseUntil, now))).all();
    return Number(r?.n ?? 0);
  }

  /**
   * Extends to `until` the leases of `owner`'s claims `tokens` that have not run out at `now` (its
   * heartbeat); how many. One that ran out may be another worker's now, and is never taken back
   * this way; a claim the worker no longer tracks (an outcome it could not record) runs out.
   */
  async renewLeases(owner: string, tokens: number[], now: string, until: string): Promise<number> {
    if (!tokens.length) return 0;
    return this.db
      .update(syncState)
      .set({ leaseUntil: until })
      .where(and(eq(syncState.leaseOwner, owner), inArray(syncState.leaseToken, tokens), gt(syncState.leaseUntil, now)))
      .run().changes;
  }

  /**
   * Ends the leases `owner` holds (a worker stopping: its rows are free at once, not after the
   * lease), or every lease (`undefined`: a process that knows it is the only one, at start).
   */
  async releaseLeases(owner: string | undefined): Promise<number> {
    return this.db
      .update(syncState)
      .set(NO_LEASE)
      .where(owner === undefined ? isNotNull(syncState.leaseOwner) : eq(syncState.leaseOwner, owner))
      .run().changes;
  }

  /**
   * Ends the leases of workers that are gone (their process ended), so their rows need not wait
   * for the leases to run out; how many. SQLite has one serving process, whose worker ends every
   * lease left in the file when it starts: none to look for here.
   */
  async releaseLeasesOfGone(_now: string): Promise<number> {
    return 0;
  }

  private dueRows(cache: Map<string, DueQueries>, now: string, rules: string[], limit: number, unleased: boolean): SyncStateRow[] {
    if (!rules.length) return [];
    const key = rules.join("\u0000");
    let q = cache.get(key);
    if (!q) {
      const free = unleased ? or(isNull(syncState.leaseUntil), lte(syncState.leaseUntil, sql.placeholder("now"))) : undefined;
      const of = (state: string) => and(eq(syncState.state, state), inArray(syncState.rule, rules), free);
      q = {
        pending: this.db.select().from(syncState).where(of("pending")).orderBy(syncState.wantedSeq).limit(sql.placeholder("limit")).prepare(),
        retrying: this.db
          .select()
          .from(syncState)
          .where(and(of("retrying"), or(isNull(syncState.nextAttempt), lte(syncState.nextAttempt, sql.placeholder("now")))))
          .orderBy(syncState.nextAttempt)
          .limit(sql.placeholder("limit"))
          .prepare(),
      };
      cache.set(key, q);
    }
    const pending = q.pending.all({ now, limit });
    if (pending.length >= limit) return pending;
    return [...pending, ...q.retrying.all({ now, limit: limit - pending.length })];
  }

  async get(kind: string, id: string, rule: string): Promise<SyncStateRow | undefined> {
    return this.q.get.get({ kind, id, rule });
  }

  /**
   * The row, read to be written in the same transaction (a delivery's outcome): no other
   * transaction may change it until this one ends. SQLite's transaction holds the database's write
   * lock already (BEGIN IMMEDIATE), so this is `get`; PostgreSQL locks the row.
   */
  async lockForWrite(kind: string, id: string, rule: string): Promise<SyncStateRow | undefined> {
    return this.get(kind, id, rule);
  }

  /** Writes the given columns of one row (a prepared statement per set of columns). */
  async update(kind: string, id: string, rule: string, set: Partial<SyncStateRow>): Promise<void> {
    const keys = Object.keys(set).filter((k) => (set as Record<string, unknown>)[k] !== undefined) as (keyof SyncStateRow)[];
    if (!keys.length) return;
    const signature = keys.join(",");
    let stmt = this.updates.get(signature);
    if (!stmt) {
      stmt = this.db
        .update(syncState)
        .set(Object.fromEntries(keys.map((k) => [k, sql.placeholder(k)])))
        .where(byPk)
        .prepare();
      this.updates.set(signature, stmt);
    }
    stmt.run({ ...set, kind, id, rule });
  }

  /**
   * Another resource's row on `target` that holds (or is about to hold) the DN with this key; the
   * same resource under another rule shares its entry and does not count.
   */
  async dnHolder(target: string, dnKey: string, kind: string, id: string): Promise<SyncStateRow | undefined> {
    return this.q.dnHolder.get({ target, dnKey, kind, id });
  }

  /** The entries one resource holds on a target, per rule (rows with a DN). */
  async entriesOf(kind: string, id: string, target: string): Promise<{ rule: string; dn: string; state: string }[]> {
    return this.q.entriesOf.all({ kind, id, target });
  }

  /**
   * Rows holding a DN, streamed a page at a time, but those of `skipKind` (rows that record no
   * provenance): a rule's own (`{ rule }`), or every other rule's on a target (`{ target, exceptRule }`).
   */
  async *rowsHoldingDns(skipKind: string, of: { rule: string } | { target: string; exceptRule: string }): AsyncGenerator<SyncStateRow & { dn: string }> {
    const which = "rule" in of ? eq(syncState.rule, of.rule) : and(eq(syncState.target, of.target), ne(syncState.rule, of.exceptRule));
    let after: SyncStateRow | undefined;
    for (;;) {
      const page = this.db
        .select()
        .from(syncState)
        .where(
          and(
            isNotNull(syncState.dn),
            ne(syncState.resourceType, skipKind),
            which,
            after && sql`(${syncState.resourceType}, ${syncState.resourceId}, ${syncState.rule}) > (${after.resourceType}, ${after.resourceId}, ${after.rule})`,
          ),
        )
        .orderBy(syncState.resourceType, syncState.resourceId, syncState.rule)
        .limit(HOLDING_PAGE)
        .all() as (SyncStateRow & { dn: string })[];
      yield* page;
      if (page.length < HOLDING_PAGE) return;
      after = page[page.length - 1];
    }
  }

  /** Whether a row of `kind` for this DN of a target, under another rule, still waits for delivery. */
  async waitingAt(kind: string, target: string, dnKey: string, exceptRule: string): Promise<boolean> {
    const found = this.db
      .select({ one: sql`1` })
      .from(syncState)
      .where(
        and(
          eq(syncState.resourceType, kind),
          eq(syncState.target, target),
          eq(syncState.dnKey, dnKey),
          ne(syncState.rule, exceptRule),
          inArray(syncState.state, ["pending", "retrying"]),
        ),
      )
      .limit(1)
      .get();
    return found !== undefined;
  }

  /** Rows waiting for `holder` to leave a DN (waiting_for) become pending; how many did. */
  async wakeWaitingFor(holder: string, at: string): Promise<number> {
    return this.q.wakeWaitingFor.run({ holder, at }).changes;
  }

  /** Retrying rows of one resource on `target` try again now (what they waited for happened). */
  async retryNow(kind: string, id: string, target: string, at: string): Promise<number> {
    return this.q.retryNow.run({ kind, id, target, at }).changes;
  }

  /** Rows holding a DN without its key (written before dn_key existed): filled in at start-up. */
  async rowsWithoutDnKey(limit: number): Promise<{ resourceType: string; resourceId: string; rule: string; dn: string }[]> {
    return this.db
      .select({ resourceType: syncState.resourceType, resourceId: syncState.resourceId, rule: syncState.rule, dn: sql<string>`${syncState.dn}` })
      .from(syncState)
      .where(and(isNotNull(syncState.dn), isNull(syncState.dnKey)))
      .limit(limit)
      .all();
  }

  async remove(kind: string, id: string, rule: string): Promise<void> {
    this.q.remove.run({ kind, id, rule });
  }

  /** Whether any row of `rule` is left (one index probe). */
  async hasRowsOf(rule: string): Promise<boolean> {
    return this.db.select({ one: sql`1` }).from(syncState).where(eq(syncState.rule, rule)).limit(1).get() !== undefined;
  }

  async rowsOfRule(rule: string): Promise<SyncStateRow[]> {
    return this.db.select().from(syncState).where(eq(syncState.rule, rule)).all();
  }

  /** Rows waiting for their first delivery attempt, but those of `exceptTargets`, counted up to `cap` (an index range, never more). */
  async pendingUpTo(cap: number, exceptTargets: readonly string[] = []): Promise<number> {
    const waiting = this.db
      .select({ one: sql`1` })
      .from(syncState)
      .where(and(eq(syncState.state, "pending"), exceptTargets.length ? notInArray(syncState.target, [...exceptTargets]) : undefined))
      .limit(cap)
      .as("waiting");
    return this.db.select({ n: sql<number>`count(*)` }).from(waiting).get()?.n ?? 0;
  }

  async counts(): Promise<{ rule: string; target: string; state: string; n: number }[]> {
    return this.db
      .select({ rule: syncState.rule, target: syncState.target, state: syncState.state, n: sql<number>`count(*)` })
      .from(syncState)
      .groupBy(syncState.rule, syncState.target, syncState.state)
      .all();
  }

  // ---- rules as last configured (for deprovisioning a rule removed from config) ----

  async knownRules(): Promise<{ name: string; kind: string; target: string; config: string }[]> {
    return this.db.select({ name: knownRules.name, kind: knownRules.kind, target: knownRules.target, config: knownRules.config }).from(knownRules).all();
  }

  async rememberRule(name: string, kind: string, target: string, config: unknown, at: string): Promise<void> {
    const json = JSON.stringify(config);
    this.db
      .insert(knownRules)
      .values({ name, kind, target, config: json, lastSeen: at })
      .onConflictDoUpdate({ target: knownRules.name, set: { kind, target, config: json, lastSeen: at } })
      .run();
  }

  async forgetRule(name: string): Promise<void> {
    this.db.delete(knownRules).where(eq(knownRules.name, name)).run();
  }
}
