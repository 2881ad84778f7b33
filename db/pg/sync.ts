/**
 * The delivery store on PostgreSQL: the twin of db/sync.ts (read it for what each method is for),
 * on the db/schema-pg.ts tables. Queries are built when called: node-postgres sends each as an
 * unnamed statement, and a statement cache per column set buys nothing measurable here.
 */
import { and, asc, count, eq, gt, inArray, isNotNull, isNull, lte, max, ne, not, notInArray, or, sql, type SQLWrapper } from "drizzle-orm";
import type { SyncStore } from "../store.js";
import { NO_LEASE, outboxBatch, workerPresenceName, type Lease, type OutboxBatch, type SyncStateRow, type TargetCap } from "../sync.js";
import { changes, knownRules, pendingSecrets, syncState } from "../schema-pg.js";
import type { PgDb } from "./pg-db.js";
import { LOCK_CLASS, singletonKey } from "./singleton.js";

/** Rows streamed by rowsHoldingDns are read this many at a time (keyset on the primary key). */
const HOLDING_PAGE = 1000;

const byPk = (kind: string, id: string, rule: string) => and(eq(syncState.resourceType, kind), eq(syncState.resourceId, id), eq(syncState.rule, rule));

/** A Group change's field, NULL for other kinds (the outbox batch carries group details only). */
const ofGroup = (value: SQLWrapper) => sql<string | null>`CASE WHEN ${changes.resourceType} = 'Group' THEN ${value} END`;

/**
 * displayName inside a JSON text column. drizzle has no JSON operator; `before`/`after` are `text`
 * (db/schema-pg.ts), so the value is cast to jsonb and read with `->>`, which gives the text of the
 * key or NULL, as SQLite's json_extract does for a string
 * (https://www.postgresql.org/docs/15/functions-json.html).
 */
const displayNameIn = (column: SQLWrapper) => sql`(${column}::jsonb)->>'displayName'`;

/**
 * The rows a write statement changed. drizzle's node-postgres driver resolves an UPDATE or DELETE
 * without RETURNING to pg's QueryResult, whose rowCount counts them
 * (https://node-postgres.com/apis/result).
 */
export const changed = (result: { rowCount: number | null }): number => result.rowCount ?? 0;

/** The delivery's sync_state rows, the outbox's fan-out and pending secrets on PostgreSQL. */
export class PgSyncQueries implements SyncStore {
  constructor(private readonly db: PgDb) {}

  async hasUnfanned(): Promise<boolean> {
    return (await this.db.select({ one: sql`1` }).from(changes).where(eq(changes.fannedOut, false)).limit(1)).length > 0;
  }

  async newestSeq(): Promise<number> {
    // max() keeps the column's mapping: bigint arrives from node-postgres as a string.
    const [row] = await this.db.select({ seq: max(changes.seq) }).from(changes);
    return row?.seq ?? 0;
  }

  async unfannedUpTo(cap: number): Promise<number> {
    const unfanned = this.db.select({ one: sql`1` }).from(changes).where(eq(changes.fannedOut, false)).limit(cap).as("unfanned");
    const [row] = await this.db.select({ n: count() }).from(unfanned);
    return row?.n ?? 0;
  }

  async changedAt(seq: number): Promise<string | undefined> {
    const [row] = await this.db.select({ at: changes.at }).from(changes).where(eq(changes.seq, seq));
    return row?.at;
  }

  /**
   * Up to `limit` outbox rows not fanned out yet, oldest first, as db/sync.ts's `unfanned` batches
   * them. Inside the fan-out's transaction the rows are locked, and rows another replica's fan-out
   * holds are skipped (FOR UPDATE SKIP LOCKED,
   * https://www.postgresql.org/docs/15/sql-select.html#SQL-FOR-UPDATE-SHARE): two fan-outs at once
   * take different rows instead of one waiting for the other.
   */
  async unfanned(limit: number): Promise<OutboxBatch> {
    const rows = await this.db
      .select({
        seq: changes.seq,
        kind: changes.resourceType,
        id: changes.resourceId,
        op: changes.op,
        membersAdded: ofGroup(changes.membersAdded),
        membersRemoved: ofGroup(changes.membersRemoved),
        displayBefore: ofGroup(displayNameIn(changes.before)),
        displayAfter: ofGroup(displayNameIn(changes.after)),
      })
      .from(changes)
      .where(eq(changes.fannedOut, false))
      .orderBy(asc(changes.seq))
      .limit(limit)
      .for("update", { skipLocked: true });
    return rows.length ? outboxBatch(rows) : { seqs: [], rows: [], groupChanges: [] };
  }

  /** Marks exactly these rows fanned out (see db/sync.ts: never a range). */
  async markFanned(seqs: number[]): Promise<void> {
    for (let i = 0; i < seqs.length; i += 10_000) {
      await this.db.update(changes).set({ fannedOut: true }).where(inArray(changes.seq, seqs.slice(i, i + 10_000)));
    }
  }

  async refreshGroup(groupId: string, memberIds: string[], at: string): Promise<void> {
    await this.db.insert(changes).values({ resourceType: "Group", resourceId: groupId, op: "refresh", version: 0, at, membersAdded: JSON.stringify(memberIds) });
  }

  /**
   * Marks (resource, rule) pending up to `seq`; a new change also clears a permanent failure. The
   * wanted seq never goes back (see db/sync.ts): greatest() is PostgreSQL's two-argument max
   * (https://www.postgresql.org/docs/15/functions-conditional.html#FUNCTIONS-GREATEST-LEAST).
   */
  async markPending(kind: string, id: string, rule: string, target: string, seq: number, at: string): Promise<void> {
    await this.db
      .insert(syncState)
      .values({ resourceType: kind, resourceId: id, rule, target, state: "pending", wantedSeq: seq, updated: at })
      .onConflictDoUpdate({
        target: [syncState.resourceType, syncState.resourceId, syncState.rule],
        set: { state: "pending", wantedSeq: sql`greatest(${syncState.wantedSeq}, excluded.wanted_seq)`, target: sql`excluded.target`, attempts: 0, nextAttempt: null, updated: sql`excluded.updated` },
      });
  }

  async takePendingSecret(userId: string): Promise<string | undefined> {
    const [row] = await this.db.delete(pendingSecrets).where(eq(pendingSecrets.userId, userId)).returning({ sealed: pendingSecrets.sealed });
    return row?.sealed;
  }

  async putPendingSecret(userId: string, sealed: string, at: string): Promise<void> {
    await this.db
      .insert(pendingSecrets)
      .values({ userId, sealed, at })
      .onConflictDoUpdate({ target: pendingSecrets.userId, set: { sealed, at } });
  }

  async setSecret(kind: string, id: string, rule: string, sealed: string | null): Promise<void> {
    await this.update(kind, id, rule, { secret: sealed });
  }

  async due(now: string, rules: string[], limit: number): Promise<SyncStateRow[]> {
    return this.dueRows(now, rules, limit, false);
  }

  /**
   * Leases due rows to `lease` (see the SQLite twin). The rows are read FOR UPDATE SKIP LOCKED, so
   * replicas claiming at once take different rows instead of waiting on each other, and the locks
   * hold until the claim commits; a row whose state changed meanwhile is checked again against
   * the WHERE clause when it is locked
   * (https://www.postgresql.org/docs/15/sql-select.html#SQL-FOR-UPDATE-SHARE).
   */
  async claim(now: string, rules: string[], limit: number, lease: Lease, cap?: TargetCap): Promise<SyncStateRow[]> {
    if (cap) {
      // Claims of one capped target take turns (a transaction-level advisory lock, released at
      // commit), so two replicas cannot both count the same free room.
      await this.db.execute(sql`SELECT pg_advisory_xact_lock(${LOCK_CLASS}, ${singletonKey(`target ${cap.target}`)})`);
      limit = Math.min(limit, cap.max - (await this.liveLeasesOn(cap.target, now)));
    }
    if (limit <= 0) return [];
    const rows = await this.dueRows(now, rules, limit, true);
    if (!rows.length) return rows;
    const keys = sql.join(
      rows.map((r) => sql`(${r.resourceType}, ${r.resourceId}, ${r.rule})`),
      sql`, `,
    );
    await this.db
      .update(syncState)
      .set({ leaseOwner: lease.owner, leaseUntil: lease.until, leaseToken: lease.token })
      .where(sql`(${syncState.resourceType}, ${syncState.resourceId}, ${syncState.rule}) IN (${keys})`);
    return rows.map((r) => ({ ...r, leaseOwner: lease.owner, leaseUntil: lease.until, leaseToken: lease.token }));
  }

  async liveLeasesOn(target: string, now: string): Promise<number> {
    const [r] = await this.db.select({ n: count() }).from(syncState).where(and(eq(syncState.target, target), isNotNull(syncState.leaseOwner), gt(syncState.leaseUntil, now)));
    return Number(r?.n ?? 0);
  }

  async renewLeases(owner: string, tokens: number[], now: string, until: string): Promise<number> {
    if (!tokens.length) return 0;
    return changed(
      await this.db
        .update(syncState)
        .set({ leaseUntil: until })
        .where(and(eq(syncState.leaseOwner, owner), inArray(syncState.leaseToken, tokens), gt(syncState.leaseUntil, now))),
    );
  }

  async releaseLeases(owner: string | undefined): Promise<number> {
    return changed(await this.db.update(syncState).set(NO_LEASE).where(owner === undefined ? isNotNull(syncState.leaseOwner) : eq(syncState.leaseOwner, owner)));
  }

  /**
   * Ends the leases of workers that are gone. A worker holds a session advisory lock named after
   * it while it runs (`workerPresenceName`, taken with Store.singleton); the lock ends with its
   * session, so a worker killed with SIGKILL is seen gone at once, instead of after its leases run
   * out. An owner is judged by pg_locks (advisory locks with two int4 keys show them as classid,
   * objid and objsubid 2, https://www.postgresql.org/docs/15/view-pg-locks.html). A live worker
   * whose presence session was cut (a partition) may lose its leases this way: its outcomes are
   * then fenced off, and the worker that takes the rows converges them again.
   */
  async releaseLeasesOfGone(now: string): Promise<number> {
    const owners = await this.db.selectDistinct({ owner: syncState.leaseOwner }).from(syncState).where(and(isNotNull(syncState.leaseOwner), gt(syncState.leaseUntil, now)));
    if (!owners.length) return 0;
    const live = await this.db.execute<{ key: string }>(
      sql`SELECT objid::bigint AS key FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND classid = ${LOCK_CLASS}`,
    );
    const present = new Set(live.rows.map((r) => Number(r.key)));
    const gone = owners.map((o) => o.owner!).filter((owner) => !present.has(singletonKey(workerPresenceName(owner)) >>> 0));
    if (!gone.length) return 0;
    return changed(await this.db.update(syncState).set(NO_LEASE).where(and(inArray(syncState.leaseOwner, gone), gt(syncState.leaseUntil, now))));
  }

  /**
   * Pending rows oldest change first, then retrying ones whose time has come, each an index range
   * on (state, wanted_seq) or (state, next_attempt). SQLite orders a retrying row without a next
   * attempt first (NULL sorts low there); PostgreSQL's ascending order puts NULL last, and NULLS
   * FIRST could not walk the index, so those rows (the recorder always sets a time, so normally
   * none) are read first by a probe of their own. `claiming`: rows leased to a live claim are left
   * out, and the rows read are locked, skipping those another claim has locked.
   */
  private async dueRows(now: string, rules: string[], limit: number, claiming: boolean): Promise<SyncStateRow[]> {
    if (!rules.length) return [];
    const free = claiming ? or(isNull(syncState.leaseUntil), lte(syncState.leaseUntil, now)) : undefined;
    const of = (state: string) => and(eq(syncState.state, state), inArray(syncState.rule, rules), free);
    const read = <Q extends { for(strength: "update", config: { skipLocked: true }): Q }>(q: Q): Q => (claiming ? q.for("update", { skipLocked: true }) : q);
    const rows = await read(this.db.select().from(syncState).where(of("pending")).orderBy(asc(syncState.wantedSeq)).limit(limit).$dynamic());
    if (rows.length < limit) rows.push(...(await read(this.db.select().from(syncState).where(and(of("retrying"), isNull(syncState.nextAttempt))).limit(limit - rows.length).$dynamic())));
    if (rows.length < limit) {
      rows.push(
        ...(await read(
          this.db
            .select()
            .from(syncState)
            .where(and(of("retrying"), lte(syncState.nextAttempt, now)))
            .orderBy(asc(syncState.nextAttempt))
            .limit(limit - rows.length)
            .$dynamic(),
        )),
      );
    }
    return rows;
  }

  async get(kind: string, id: string, rule: string): Promise<SyncStateRow | undefined> {
    const [row] = await this.db.select().from(syncState).where(byPk(kind, id, rule));
    return row;
  }

  /**
   * The row locked until the transaction ends (SELECT … FOR UPDATE): under READ COMMITTED a fan-out
   * committing between an outcome's read and its write would otherwise have its pending mark
   * overwritten (the change it marked never delivered: a deleted user's entry left behind).
   */
  async lockForWrite(kind: string, id: string, rule: string): Promise<SyncStateRow | undefined> {
    const [row] = await this.db.select().from(syncState).where(byPk(kind, id, rule)).for("update");
    return row;
  }

  /** Writes the given columns of one row; undefined ones are left as they are. */
  async update(kind: string, id: string, rule: string, set: Partial<SyncStateRow>): Promise<void> {
    const values = Object.fromEntries(Object.entries(set).filter(([, v]) => v !== undefined));
    // drizzle refuses an UPDATE with nothing to set; the SQLite twin does nothing then.
    if (!Object.keys(values).length) return;
    await this.db.update(syncState).set(values).where(byPk(kind, id, rule));
  }

  async dnHolder(target: string, dnKey: string, kind: string, id: string): Promise<SyncStateRow | undefined> {
    const [row] = await this.db
      .select()
      .from(syncState)
      .where(and(eq(syncState.target, target), eq(syncState.dnKey, dnKey), not(and(eq(syncState.resourceType, kind), eq(syncState.resourceId, id))!)))
      .limit(1);
    return row;
  }

  async entriesOf(kind: string, id: string, target: string): Promise<{ rule: string; dn: string; state: string }[]> {
    return this.db
      .select({ rule: syncState.rule, dn: sql<string>`${syncState.dn}`, state: syncState.state })
      .from(syncState)
      .where(and(eq(syncState.resourceType, kind), eq(syncState.resourceId, id), eq(syncState.target, target), isNotNull(syncState.dn)));
  }

  /**
   * Rows holding a DN, but those of `skipKind`, read a page at a time in primary key order (a
   * keyset: the row value comparison walks sync_state_pkey,
   * https://www.postgresql.org/docs/15/functions-comparisons.html#ROW-WISE-COMPARISON).
   */
  async *rowsHoldingDns(skipKind: string, of: { rule: string } | { target: string; exceptRule: string }): AsyncGenerator<SyncStateRow & { dn: string }> {
    const which = "rule" in of ? eq(syncState.rule, of.rule) : and(eq(syncState.target, of.target), ne(syncState.rule, of.exceptRule));
    let after: SyncStateRow | undefined;
    for (;;) {
      const page = (await this.db
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
        .orderBy(asc(syncState.resourceType), asc(syncState.resourceId), asc(syncState.rule))
        .limit(HOLDING_PAGE)) as (SyncStateRow & { dn: string })[];
      yield* page;
      if (page.length < HOLDING_PAGE) return;
      after = page[page.length - 1];
    }
  }

  async waitingAt(kind: string, target: string, dnKey: string, exceptRule: string): Promise<boolean> {
    const found = await this.db
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
      .limit(1);
    return found.length > 0;
  }

  async wakeWaitingFor(holder: string, at: string): Promise<number> {
    return changed(
      await this.db.update(syncState).set({ state: "pending", waitingFor: null, attempts: 0, nextAttempt: null, updated: at }).where(eq(syncState.waitingFor, holder)),
    );
  }

  async retryNow(kind: string, id: string, target: string, at: string): Promise<number> {
    return changed(
      await this.db
        .update(syncState)
        .set({ state: "pending", nextAttempt: null, updated: at })
        .where(and(eq(syncState.resourceType, kind), eq(syncState.resourceId, id), eq(syncState.target, target), eq(syncState.state, "retrying"))),
    );
  }

  async rowsWithoutDnKey(limit: number): Promise<{ resourceType: string; resourceId: string; rule: string; dn: string }[]> {
    return this.db
      .select({ resourceType: syncState.resourceType, resourceId: syncState.resourceId, rule: syncState.rule, dn: sql<string>`${syncState.dn}` })
      .from(syncState)
      .where(and(isNotNull(syncState.dn), isNull(syncState.dnKey)))
      .limit(limit);
  }

  async remove(kind: string, id: string, rule: string): Promise<void> {
    await this.db.delete(syncState).where(byPk(kind, id, rule));
  }

  async hasRowsOf(rule: string): Promise<boolean> {
    return (await this.db.select({ one: sql`1` }).from(syncState).where(eq(syncState.rule, rule)).limit(1)).length > 0;
  }

  async rowsOfRule(rule: string): Promise<SyncStateRow[]> {
    return this.db.select().from(syncState).where(eq(syncState.rule, rule));
  }

  /** Pending rows but those of `exceptTargets`, counted up to `cap` (the LIMIT inside bounds the scan). */
  async pendingUpTo(cap: number, exceptTargets: readonly string[] = []): Promise<number> {
    const waiting = this.db
      .select({ one: sql`1` })
      .from(syncState)
      .where(and(eq(syncState.state, "pending"), exceptTargets.length ? notInArray(syncState.target, [...exceptTargets]) : undefined))
      .limit(cap)
      .as("waiting");
    const [row] = await this.db.select({ n: count() }).from(waiting);
    return row?.n ?? 0;
  }

  async counts(): Promise<{ rule: string; target: string; state: string; n: number }[]> {
    return this.db
      .select({ rule: syncState.rule, target: syncState.target, state: syncState.state, n: count() })
      .from(syncState)
      .groupBy(syncState.rule, syncState.target, syncState.state);
  }

  // ---- rules as last configured (for deprovisioning a rule removed from config) ----

  async knownRules(): Promise<{ name: string; kind: string; target: string; config: string }[]> {
    return this.db.select({ name: knownRules.name, kind: knownRules.kind, target: knownRules.target, config: knownRules.config }).from(knownRules);
  }

  async rememberRule(name: string, kind: string, target: string, config: unknown, at: string): Promise<void> {
    const json = JSON.stringify(config);
    await this.db
      .insert(knownRules)
      .values({ name, kind, target, config: json, lastSeen: at })
      .onConflictDoUpdate({ target: knownRules.name, set: { kind, target, config: json, lastSeen: at } });
  }

  async forgetRule(name: string): Promise<void> {
    await this.db.delete(knownRules).where(eq(knownRules.name, name));
  }
}
