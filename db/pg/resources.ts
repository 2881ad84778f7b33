/**
 * Users, Groups, memberships and the outbox rows on PostgreSQL: db/resources.ts's behaviour on the
 * tables of db/schema-pg.ts. The *_key columns hold fold() computed here in JavaScript, exactly
 * as SQLite's do, so uniqueness and equality never depend on PostgreSQL's own case mapping.
 * `data` is jsonb: objects are written and read (node-postgres parses jsonb).
 *
 * Order. A list sorts its key `ASC NULLS FIRST` (`DESC NULLS LAST` descending), which is SQLite's
 * NULL order, then seq; the sort-key indexes keep NULLs first (db/schema-pg.ts) so PostgreSQL
 * walks them. Text compares byte-wise only when the database's collation is "C": db/pg/open.ts
 * checks it at start-up.
 */
import { and, asc, count, desc, eq, gt, inArray, lt, sql, type SQL } from "drizzle-orm";
import pg from "pg";
import type { ResourceKind } from "../../schemas/registry.js";
import { emailRows, groupColumns, str, userColumns } from "../resource-columns.js";
import type { Boundary, KeyedResource, KeysetQuery, ListQuery, SortKey, StoredResource } from "../resources.js";
import { changes, groupMembers, groups, userEmails, users } from "../schema-pg.js";
import type { ResourceStore } from "../store.js";
import type { PgDb } from "./pg-db.js";

type ListTable = typeof users | typeof groups;
type Row = { id: string; data: unknown; created: string; lastModified: string; version: number };

/** IN lists are cut into chunks: a statement takes at most 65535 bind parameters. */
const CHUNK = 1000;

const tableOf = (kind: ResourceKind): ListTable => (kind === "User" ? users : groups);
const columnsOf = (t: ListTable) => ({ id: t.id, data: t.data, created: t.created, lastModified: t.lastModified, version: t.version });

const toStored = (r: Row): StoredResource => ({
  id: r.id,
  attributes: r.data as Record<string, unknown>,
  created: r.created,
  lastModified: r.lastModified,
  version: r.version,
});

/**
 * A sort key in SQLite's NULL order: first ascending, last descending. Spelled in SQL because
 * drizzle's asc()/desc() leave the NULLs' place to PostgreSQL's default, the opposite one.
 */
const keyOrder = (key: SQL, descending: boolean): SQL => (descending ? sql`${key} DESC NULLS LAST` : sql`${key} ASC NULLS FIRST`);

/** ORDER BY key, seq (seq alone without a key): seq breaks ties so pages are stable. */
function orderOf(t: ListTable, key: SQL | undefined, descending: boolean): SQL[] {
  const bySeq = descending ? desc(t.seq) : asc(t.seq);
  return key ? [keyOrder(key, descending), bySeq] : [bySeq];
}

/**
 * The ranges that make up the rest of an order after `from`, in the direction walked: as in
 * db/resources.ts, the rows tied with `from` on the key, then the keys beyond it. The tie test is
 * `key = k`, or `key IS NULL` for a NULL key: SQLite's `key IS k`, split in two because
 * `IS NOT DISTINCT FROM` is not an operator a b-tree index serves
 * (https://www.postgresql.org/docs/15/indexes-types.html), and the ties must be an index range.
 */
function keysetRanges(t: ListTable, key: SQL | undefined, ascending: boolean, from: Boundary | undefined): { where?: SQL; order: SQL[] }[] {
  const order = orderOf(t, key, !ascending);
  const bySeq = [ascending ? asc(t.seq) : desc(t.seq)];
  const seqBeyond = (s: number) => (ascending ? gt(t.seq, s) : lt(t.seq, s));
  if (from === undefined) return [{ order }];
  if (key === undefined) return [{ where: seqBeyond(from.seq), order }];
  const tied = from.key === null ? sql`${key} IS NULL` : sql`${key} = ${from.key}`;
  const ties = { where: and(tied, seqBeyond(from.seq)), order: bySeq };
  if (ascending) return [ties, { where: from.key === null ? sql`${key} IS NOT NULL` : sql`${key} > ${from.key}`, order }];
  // Descending: smaller keys, then the NULL keys (the smallest of all); nothing lies below NULL.
  if (from.key === null) return [ties];
  return [ties, { where: sql`${key} < ${from.key}`, order }, { where: sql`${key} IS NULL`, order: bySeq }];
}

interface PlanNode {
  "Node Type": string;
  Plans?: PlanNode[];
}

const hasFullSort = (n: PlanNode): boolean => n["Node Type"] === "Sort" || (n.Plans ?? []).some(hasFullSort);

export class PgResourceQueries implements ResourceStore {
  /** `client` is what `db` runs on: the pool outside a transaction, the transaction's client inside one. */
  constructor(
    private readonly db: PgDb,
    private readonly client: pg.Pool | pg.PoolClient,
  ) {}

  async get(kind: ResourceKind, id: string): Promise<StoredResource | undefined> {
    const t = tableOf(kind);
    const [row] = await this.db.select(columnsOf(t)).from(t).where(eq(t.id, id));
    return row ? toStored(row) : undefined;
  }

  /**
   * The resource with its row locked until the transaction ends (SELECT … FOR UPDATE,
   * https://www.postgresql.org/docs/15/sql-select.html#SQL-FOR-UPDATE-SHARE): a write to the same
   * resource from another replica waits, then reads what this one committed. Lock waits are
   * bounded by the session's lock_timeout (db/pg/open.ts), past which the request answers 503.
   */
  async lockForWrite(kind: ResourceKind, id: string): Promise<StoredResource | undefined> {
    const t = tableOf(kind);
    const [row] = await this.db.select(columnsOf(t)).from(t).where(eq(t.id, id)).for("update");
    return row ? toStored(row) : undefined;
  }

  async exists(kind: ResourceKind, id: string): Promise<boolean> {
    const t = tableOf(kind);
    return (await this.db.select({ one: sql`1` }).from(t).where(eq(t.id, id))).length > 0;
  }

  async count(kind: ResourceKind, where?: SQL): Promise<number> {
    const t = tableOf(kind);
    return (await this.db.select({ n: count() }).from(t).where(where))[0]?.n ?? 0;
  }

  async page(kind: ResourceKind, q: ListQuery): Promise<StoredResource[]> {
    if (q.limit <= 0) return [];
    return (await this.pageQuery(kind, q)).map(toStored);
  }

  private pageQuery(kind: ResourceKind, q: ListQuery) {
    const t = tableOf(kind);
    const query = this.db.select(columnsOf(t)).from(t).where(q.where).orderBy(...orderOf(t, q.orderBy, q.descending ?? false)).limit(q.limit);
    return q.offset > 0 ? query.offset(q.offset) : query;
  }

  /**
   * Whether the page's ORDER BY needs a sort of every matching row rather than an index walk: the
   * question SQLite's plan answers with "USE TEMP B-TREE FOR ORDER BY". PostgreSQL's planner
   * picks a sort over an index whenever the table is small enough for it to be cheaper, which says
   * nothing about a large one, so the plan is asked for with sorts priced out (enable_sort = off,
   * https://www.postgresql.org/docs/15/runtime-config-query.html): a Sort node left in it means no
   * index delivers the order. An Incremental Sort is not one: it sorts only the rows tied on the
   * key an index already ordered (the seq tie-breaker). The setting is SET LOCAL inside a
   * transaction or a savepoint that is rolled back, so it never outlives the question.
   */
  async sortsEveryRow(kind: ResourceKind, q: ListQuery): Promise<boolean> {
    const { sql: text, params } = this.pageQuery(kind, { ...q, limit: Math.max(q.limit, 1) }).toSQL();
    const own = this.client instanceof pg.Pool ? await this.client.connect() : undefined;
    const c = own ?? (this.client as pg.PoolClient);
    const [begin, end] = own ? ["BEGIN", "ROLLBACK"] : ["SAVEPOINT sorts_every_row", "ROLLBACK TO SAVEPOINT sorts_every_row; RELEASE SAVEPOINT sorts_every_row"];
    let broken: Error | undefined;
    // See PostgresEngine.top: a checked-out client's "error" event needs a listener.
    const lost = (e: Error) => (broken = e);
    own?.on("error", lost);
    try {
      await c.query(begin);
      try {
        await c.query("SET LOCAL enable_sort = off");
        const plan = await c.query<{ "QUERY PLAN": { Plan: PlanNode }[] }>(`EXPLAIN (FORMAT JSON) ${text}`, params);
        return hasFullSort(plan.rows[0]!["QUERY PLAN"][0]!.Plan);
      } finally {
        await c.query(end);
      }
    } catch (e) {
      broken = e as Error;
      throw e;
    } finally {
      own?.off("error", lost);
      own?.release(broken);
    }
  }

  /**
   * Up to `limit` rows after `from` in the list's order (before it when `backward`, nearest first),
   * each with its boundary (keyset paging, RFC 9865 cursors); see keysetRanges. The boundary's key
   * is the sort key read back as text (NULL stays null): a number or boolean key compares with it
   * again once PostgreSQL casts the parameter to the key's type, and a cursor holds plain strings.
   */
  async keyset(kind: ResourceKind, q: KeysetQuery): Promise<KeyedResource[]> {
    if (q.limit <= 0) return [];
    const t = tableOf(kind);
    const ascending = q.descending === q.backward;
    const key = q.orderBy;
    const out: KeyedResource[] = [];
    for (const range of keysetRanges(t, key, ascending, q.from)) {
      const rows = await this.db
        .select({ ...columnsOf(t), seq: t.seq, sortKey: key ? sql<string | null>`(${key})::text` : sql<null>`NULL` })
        .from(t)
        .where(and(q.where, range.where))
        .orderBy(...range.order)
        .limit(q.limit - out.length);
      for (const r of rows) out.push({ ...toStored(r), at: { key: key ? (r.sortKey as SortKey) : r.seq, seq: r.seq } });
      if (out.length >= q.limit) break;
    }
    return out;
  }

  async insert(kind: ResourceKind, r: StoredResource): Promise<void> {
    const meta = { id: r.id, data: r.attributes, created: r.created, lastModified: r.lastModified, version: r.version };
    if (kind === "User") {
      await this.db.insert(users).values({ ...meta, ...userColumns(r.attributes) });
      await this.writeEmails(r);
    } else {
      await this.db.insert(groups).values({ ...meta, ...groupColumns(r.attributes) });
    }
  }

  async update(kind: ResourceKind, r: StoredResource): Promise<void> {
    const set = { data: r.attributes, lastModified: r.lastModified, version: r.version };
    if (kind === "User") {
      const columns = userColumns(r.attributes);
      await this.db.update(users).set({ ...set, ...columns }).where(eq(users.id, r.id));
      await this.db.delete(userEmails).where(eq(userEmails.userId, r.id));
      await this.writeEmails(r);
      await this.memberDisplay(r.id, str(r.attributes.displayName) ?? columns.userName);
    } else {
      const columns = groupColumns(r.attributes);
      await this.db.update(groups).set({ ...set, ...columns }).where(eq(groups.id, r.id));
      await this.memberDisplay(r.id, columns.displayName);
    }
  }

  async touch(kind: ResourceKind, id: string, lastModified: string): Promise<number> {
    const t = tableOf(kind);
    const [row] = await this.db.update(t).set({ lastModified, version: sql`${t.version} + 1` }).where(eq(t.id, id)).returning({ version: t.version });
    return row?.version ?? 0;
  }

  async delete(kind: ResourceKind, id: string): Promise<void> {
    const t = tableOf(kind);
    // A deleted resource leaves every group it was in (RFC 7644 §3.6).
    await this.db.delete(groupMembers).where(eq(groupMembers.memberId, id));
    await this.db.delete(t).where(eq(t.id, id));
  }

  /**
   * One statement with one array parameter per column, expanded by unnest()
   * (https://www.postgresql.org/docs/15/functions-array.html), as addMembers does. drizzle's
   * multi-row VALUES makes a parameter of every cell, and for a user with a thousand emails building
   * that statement took more CPU than the rest of the request (a 1,000-email PATCH cost twice
   * SQLite's CPU time, all of it on the event loop).
   */
  private async writeEmails(r: StoredResource): Promise<void> {
    const rows = emailRows(r.id, r.attributes);
    if (!rows.length) return;
    const column = <K extends keyof (typeof rows)[number]>(k: K) => sql.param(rows.map((e) => e[k]));
    await this.db.execute(sql`
      INSERT INTO ${userEmails} (user_id, position, value, value_key, type, "primary")
      SELECT ${r.id}, e.* FROM unnest(${column("position")}::integer[], ${column("value")}::text[], ${column("valueKey")}::text[], ${column("type")}::text[], ${column("primary")}::boolean[]) AS e`);
  }

  // ---- membership ----

  /** Member ids in insertion order (position, SQLite's rowid), with their type. */
  async memberIds(groupId: string): Promise<{ id: string; type: string }[]> {
    return this.db
      .select({ id: groupMembers.memberId, type: groupMembers.memberType })
      .from(groupMembers)
      .where(eq(groupMembers.groupId, groupId))
      .orderBy(asc(groupMembers.position));
  }

  /** Members with their kept display (RFC 7643 §4.2), in insertion order. */
  async members(groupId: string): Promise<{ value: string; type: string; display: string | null }[]> {
    return this.db
      .select({ value: groupMembers.memberId, type: groupMembers.memberType, display: groupMembers.display })
      .from(groupMembers)
      .where(eq(groupMembers.groupId, groupId))
      .orderBy(asc(groupMembers.position));
  }

  async groupsOf(memberId: string): Promise<{ value: string; display: string }[]> {
    return this.db
      .select({ value: groups.id, display: groups.displayName })
      .from(groupMembers)
      .innerJoin(groups, eq(groups.id, groupMembers.groupId))
      .where(eq(groupMembers.memberId, memberId))
      .orderBy(asc(groups.seq));
  }

  async resolveMemberTypes(ids: string[]): Promise<Map<string, "User" | "Group">> {
    const found = new Map<string, "User" | "Group">();
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK);
      for (const r of await this.db.select({ id: users.id }).from(users).where(inArray(users.id, chunk))) found.set(r.id, "User");
      for (const r of await this.db.select({ id: groups.id }).from(groups).where(inArray(groups.id, chunk))) found.set(r.id, "Group");
    }
    return found;
  }

  /**
   * Inserts the members not there yet, in the order given, each with its display read from the
   * member's row in the same statement (a user's displayName, else its userName; a group's
   * displayName); returns the ids actually added. One statement for the whole list: a round trip
   * per member would make a large PATCH cost its member count in network latency. Plain SQL:
   * drizzle has no INSERT … SELECT FROM unnest(…) WITH ORDINALITY. The identity column `position`
   * takes its values as the rows leave the ORDER BY, so insertion order is the list's.
   */
  async addMembers(groupId: string, members: { id: string; type: "User" | "Group" }[]): Promise<string[]> {
    if (!members.length) return [];
    const result = await this.db.execute<{ member_id: string }>(sql`
      INSERT INTO ${groupMembers} (group_id, member_id, member_type, display)
      SELECT ${groupId}, m.id, m.type, CASE m.type
          WHEN 'User' THEN (SELECT coalesce(nullif(u.data->>'displayName', ''), u.user_name) FROM ${users} u WHERE u.id = m.id)
          ELSE (SELECT g.display_name FROM ${groups} g WHERE g.id = m.id) END
        FROM unnest(${sql.param(members.map((m) => m.id))}::text[], ${sql.param(members.map((m) => m.type))}::text[]) WITH ORDINALITY AS m(id, type, n)
       ORDER BY m.n
      ON CONFLICT DO NOTHING
      RETURNING member_id`);
    const added = new Set(result.rows.map((r) => r.member_id));
    return members.filter((m) => added.delete(m.id)).map((m) => m.id);
  }

  private async memberDisplay(memberId: string, display: string | null): Promise<void> {
    await this.db
      .update(groupMembers)
      .set({ display })
      .where(and(eq(groupMembers.memberId, memberId), sql`${groupMembers.display} IS DISTINCT FROM ${display}`));
  }

  async removeMembers(groupId: string, ids: string[]): Promise<string[]> {
    const removed = new Set<string>();
    for (let i = 0; i < ids.length; i += CHUNK) {
      const rows = await this.db
        .delete(groupMembers)
        .where(and(eq(groupMembers.groupId, groupId), inArray(groupMembers.memberId, ids.slice(i, i + CHUNK))))
        .returning({ id: groupMembers.memberId });
      for (const r of rows) removed.add(r.id);
    }
    return ids.filter((id) => removed.delete(id));
  }

  // ---- outbox ----

  async recordChange(c: Parameters<ResourceStore["recordChange"]>[0]): Promise<void> {
    const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
    await this.db.insert(changes).values({
      resourceType: c.kind,
      resourceId: c.id,
      op: c.op,
      version: c.version,
      at: c.at,
      client: c.client ?? null,
      before: json(c.before),
      after: json(c.after),
      membersAdded: c.membersAdded?.length ? JSON.stringify(c.membersAdded) : null,
      membersRemoved: c.membersRemoved?.length ? JSON.stringify(c.membersRemoved) : null,
    });
  }
}
