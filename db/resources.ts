/**
 * Queries for Users and Groups. Every write runs inside the caller's Store.transaction together
 * with its outbox row.
 */
import { and, asc, count, desc, eq, gt, inArray, lt, sql, type SQL } from "drizzle-orm";
import type { ResourceKind } from "../schemas/registry.js";
import { emailRows, groupColumns, str, userColumns } from "./resource-columns.js";
import type { Db } from "./sqlite-db.js";
import { PreparedWrites } from "./prepared-writes.js";
import { changes, groupMembers, groups, userEmails, users } from "./schema.js";

export interface StoredResource {
  id: string;
  /** Client-written attributes in wire shape (no id/meta/groups/members/password). */
  attributes: Record<string, unknown>;
  created: string;
  lastModified: string;
  version: number;
}

export interface ListQuery {
  where?: SQL | undefined;
  orderBy?: SQL | undefined;
  descending?: boolean;
  offset: number;
  limit: number;
}

/** A sort key's value as SQLite returns it (a folded string, a date string, a number, or NULL). */
export type SortKey = string | number | null;

/** A row's place in a list's order: its sort key and its seq, the tie-breaker. */
export interface Boundary {
  key: SortKey;
  seq: number;
}

/** A page read from a boundary in the list's order (keyset paging; RFC 9865 cursors). */
export interface KeysetQuery {
  where?: SQL | undefined;
  /** The sort key (compileSortKey); undefined orders by seq alone. */
  orderBy?: SQL | undefined;
  descending: boolean;
  /** Exclusive; undefined starts at the list's first row (its last when `backward`). */
  from?: Boundary | undefined;
  /** Read towards the start of the order (a previous page), nearest row first. */
  backward: boolean;
  limit: number;
}

/** A stored resource with its place in the order it was listed in. */
export interface KeyedResource extends StoredResource {
  at: Boundary;
}

type Row = { id: string; data: string; created: string; lastModified: string; version: number };
type KeyedRow = Row & { seq: number; sortKey: SortKey };

const toStored = (r: Row): StoredResource => ({
  id: r.id,
  attributes: JSON.parse(r.data) as Record<string, unknown>,
  created: r.created,
  lastModified: r.lastModified,
  version: r.version,
});

const tableOf = (kind: ResourceKind) => (kind === "User" ? users : groups);

/** members.display of a member `@member` (RFC 7643 §4.2): a user's displayName, else its userName; a group's displayName. */
const USER_DISPLAY_SQL = "(SELECT coalesce(nullif(json_extract(data, '$.displayName'), ''), user_name) FROM users WHERE id = @member)";
const GROUP_DISPLAY_SQL = "(SELECT display_name FROM groups WHERE id = @member)";

type ListTable = typeof users | typeof groups;

/** ORDER BY key, seq (seq alone without a key): seq breaks ties so pages are stable (Okta pages by startIndex). */
function orderOf(t: ListTable, key: SQL | undefined, descending: boolean): SQL[] {
  const dir = descending ? desc : asc;
  return key ? [dir(key), dir(t.seq)] : [dir(t.seq)];
}

/** The index ranges that make up the rest of an order after `from`, in the direction walked. */
function keysetRanges(t: ListTable, key: SQL | undefined, ascending: boolean, from: Boundary | undefined): { where?: SQL; order: SQL[] }[] {
  const order = orderOf(t, key, !ascending);
  const bySeq = [ascending ? asc(t.seq) : desc(t.seq)];
  const seqBeyond = (s: number) => (ascending ? gt(t.seq, s) : lt(t.seq, s));
  if (from === undefined) return [{ order }];
  if (key === undefined) return [{ where: seqBeyond(from.seq), order }];
  const ties = { where: and(sql`${key} IS ${from.key}`, seqBeyond(from.seq)), order: bySeq };
  if (ascending) return [ties, { where: from.key === null ? sql`${key} IS NOT NULL` : sql`${key} > ${from.key}`, order }];
  // Descending: smaller keys, then the NULL keys (the smallest of all); nothing lies below NULL.
  if (from.key === null) return [ties];
  return [ties, { where: sql`${key} < ${from.key}`, order }, { where: sql`${key} IS NULL`, order: bySeq }];
}

/** The statements every read, write and delivery runs, per table, prepared once per connection. */
function preparedFor(db: Db, t: ListTable) {
  const byId = eq(t.id, sql.placeholder("id"));
  return {
    get: db.select({ id: t.id, data: t.data, created: t.created, lastModified: t.lastModified, version: t.version }).from(t).where(byId).prepare(),
    exists: db.select({ one: sql`1` }).from(t).where(byId).prepare(),
    touch: db
      .update(t)
      .set({ lastModified: sql`${sql.placeholder("at")}`, version: sql`${t.version} + 1` })
      .where(byId)
      .returning({ version: t.version })
      .prepare(),
  };
}

export class ResourceQueries {
  private readonly writes: PreparedWrites;
  /** Prepared statements (building drizzle queries again on every call was measured at about a third of a SCIM POST's store time). */
  private readonly q;

  constructor(private readonly db: Db) {
    this.writes = new PreparedWrites(db);
    this.q = {
      User: preparedFor(db, users),
      Group: preparedFor(db, groups),
      deleteEmails: db.delete(userEmails).where(eq(userEmails.userId, sql.placeholder("id"))).prepare(),
      groupsOf: db
        .select({ value: groups.id, display: groups.displayName })
        .from(groupMembers)
        .innerJoin(groups, eq(groups.id, groupMembers.groupId))
        .where(eq(groupMembers.memberId, sql.placeholder("id")))
        .orderBy(groups.seq)
        .prepare(),
      memberDisplay: db
        .update(groupMembers)
        .set({ display: sql`${sql.placeholder("display")}` })
        .where(and(eq(groupMembers.memberId, sql.placeholder("id")), sql`${groupMembers.display} IS NOT ${sql.placeholder("display")}`))
        .prepare(),
      removeMember: db.delete(groupMembers).where(and(eq(groupMembers.groupId, sql.placeholder("group")), eq(groupMembers.memberId, sql.placeholder("member")))).prepare(),
    };
  }

  async get(kind: ResourceKind, id: string): Promise<StoredResource | undefined> {
    const row = this.q[kind].get.get({ id });
    return row ? toStored(row) : undefined;
  }

  /**
   * The resource, read to be written in the same transaction: no other transaction may change it
   * until this one ends. SQLite's transaction already holds the database's write lock (BEGIN
   * IMMEDIATE, db/sqlite-engine.ts), so this is `get`; PostgreSQL locks the row.
   */
  async lockForWrite(kind: ResourceKind, id: string): Promise<StoredResource | undefined> {
    return this.get(kind, id);
  }

  async exists(kind: ResourceKind, id: string): Promise<boolean> {
    return this.q[kind].exists.get({ id }) !== undefined;
  }

  /** totalResults from COUNT(*), then only the page is loaded (design.md decision 5). */
  async count(kind: ResourceKind, where?: SQL): Promise<number> {
    const t = tableOf(kind);
    return this.db.select({ n: count() }).from(t).where(where).get()?.n ?? 0;
  }

  async page(kind: ResourceKind, q: ListQuery): Promise<StoredResource[]> {
    if (q.limit <= 0) return [];
    return this.pageQuery(kind, q).all().map(toStored);
  }

  /**
   * Whether the page's ORDER BY needs a sort of every matching row (SQLite's query plan says
   * "USE TEMP B-TREE FOR ORDER BY": no index delivers the order), rather than an index walk.
   */
  async sortsEveryRow(kind: ResourceKind, q: ListQuery): Promise<boolean> {
    const { sql: text, params } = this.seqQuery(kind, { ...q, limit: Math.max(q.limit, 1) }).toSQL();
    const plan = this.db.$client.prepare(`EXPLAIN QUERY PLAN ${text}`).all(...(params as unknown[])) as { detail: string }[];
    return plan.some((p) => p.detail === "USE TEMP B-TREE FOR ORDER BY");
  }

  /**
   * The page's seqs: ORDER BY, LIMIT and OFFSET over seq alone, so SQLite walks a covering index
   * (users_seq, or the sort key's index, which holds the rowid) and skips OFFSET index entries
   * instead of reading and discarding OFFSET whole rows. The skip stays linear in the offset (SQLite
   * cannot seek to an offset), but a skipped entry costs about 7 ns (`npm run bench -- scale`, at
   * 1,000,000 users on 2 shared vCPUs), a small part of what reading the whole row costs.
   */
  private seqQuery(kind: ResourceKind, q: ListQuery) {
    const t = tableOf(kind);
    return this.db
      .select({ seq: t.seq })
      .from(t)
      .where(q.where)
      .orderBy(...orderOf(t, q.orderBy, q.descending ?? false))
      .limit(q.limit)
      .offset(q.offset);
  }

  private pageQuery(kind: ResourceKind, q: ListQuery) {
    const t = tableOf(kind);
    const columns = { id: t.id, data: t.data, created: t.created, lastModified: t.lastModified, version: t.version };
    const order = orderOf(t, q.orderBy, q.descending ?? false);
    // Nothing to skip (a first page, a filter lookup): one plain query.
    if (q.offset <= 0) return this.db.select(columns).from(t).where(q.where).orderBy(...order).limit(q.limit);
    return this.db.select(columns).from(t).where(inArray(t.seq, this.seqQuery(kind, q))).orderBy(...order);
  }

  /**
   * Up to `limit` rows after `from` in the list's order (before it when `backward`, nearest first),
   * each with its boundary: keyset paging (RFC 9865 cursors). Every read is an index range, so a
   * page costs the same at any depth, and rows inserted or deleted elsewhere never shift it. The
   * order is split into ranges each an index can serve: the rows tied with `from` on the sort key
   * (key IS k AND seq > s), then the keys beyond it; NULL keys come first ascending, as in ORDER BY.
   * (A row value (key, seq) > (k, s) would use the index for the key only, then scan every tie.)
   */
  async keyset(kind: ResourceKind, q: KeysetQuery): Promise<KeyedResource[]> {
    if (q.limit <= 0) return [];
    const t = tableOf(kind);
    // The direction SQLite walks: forward in an ascending order, or backward in a descending one.
    const ascending = q.descending === q.backward;
    const out: KeyedResource[] = [];
    for (const range of keysetRanges(t, q.orderBy, ascending, q.from)) {
      const rows = this.db
        .select({ id: t.id, data: t.data, created: t.created, lastModified: t.lastModified, version: t.version, seq: t.seq, sortKey: sql<SortKey>`${q.orderBy ?? t.seq}` })
        .from(t)
        .where(and(q.where, range.where))
        .orderBy(...range.order)
        .limit(q.limit - out.length)
        .all() as KeyedRow[];
      for (const r of rows) out.push({ ...toStored(r), at: { key: r.sortKey, seq: r.seq } });
      if (out.length >= q.limit) break;
    }
    return out;
  }

  async insert(kind: ResourceKind, r: StoredResource): Promise<void> {
    const data = JSON.stringify(r.attributes);
    const meta = { id: r.id, data, created: r.created, lastModified: r.lastModified, version: r.version };
    if (kind === "User") {
      this.writes.insert(users, { ...meta, ...userColumns(r.attributes) });
      this.writeEmails(r);
    } else {
      this.writes.insert(groups, { ...meta, ...groupColumns(r.attributes) });
    }
  }

  async update(kind: ResourceKind, r: StoredResource): Promise<void> {
    const data = JSON.stringify(r.attributes);
    const set = { data, lastModified: r.lastModified, version: r.version };
    if (kind === "User") {
      const columns = userColumns(r.attributes);
      this.writes.update(users, { ...set, ...columns }, users.id, r.id);
      this.q.deleteEmails.run({ id: r.id });
      this.writeEmails(r);
      // One index probe on group_members_member when the user is in no group.
      this.memberDisplay(r.id, str(r.attributes.displayName) ?? columns.userName);
    } else {
      const columns = groupColumns(r.attributes);
      this.writes.update(groups, { ...set, ...columns }, groups.id, r.id);
      this.memberDisplay(r.id, columns.displayName);
    }
  }

  /** Bumps version and lastModified only (a membership change alters the group, RFC 7643 §3.1). */
  async touch(kind: ResourceKind, id: string, lastModified: string): Promise<number> {
    return this.q[kind].touch.get({ at: lastModified, id })?.version ?? 0;
  }

  async delete(kind: ResourceKind, id: string): Promise<void> {
    const t = tableOf(kind);
    // A deleted resource leaves every group it was in (RFC 7644 §3.6: it is no longer a member).
    this.db.delete(groupMembers).where(eq(groupMembers.memberId, id)).run();
    this.db.delete(t).where(eq(t.id, id)).run();
  }

  private writeEmails(r: StoredResource): void {
    const rows = emailRows(r.id, r.attributes);
    for (const row of rows) this.writes.insert(userEmails, row);
  }

  // ---- membership (its own table, design.md decision 4) ----

  /** Member ids of a group in insertion order, with their type. */
  async memberIds(groupId: string): Promise<{ id: string; type: string }[]> {
    return this.db
      .select({ id: groupMembers.memberId, type: groupMembers.memberType })
      .from(groupMembers)
      .where(eq(groupMembers.groupId, groupId))
      .orderBy(sql`rowid`)
      .all();
  }

  /**
   * Members with their display value (RFC 7643 §4.2 members.display), from the membership rows
   * alone: the display is kept there (memberDisplay), so no member's record is read.
   */
  async members(groupId: string): Promise<{ value: string; type: string; display: string | null }[]> {
    return this.db
      .select({ value: groupMembers.memberId, type: groupMembers.memberType, display: groupMembers.display })
      .from(groupMembers)
      .where(eq(groupMembers.groupId, groupId))
      .orderBy(sql`rowid`)
      .all();
  }

  /** Groups that directly contain `memberId` (the User's readOnly `groups`, RFC 7643 §4.1.2). */
  async groupsOf(memberId: string): Promise<{ value: string; display: string }[]> {
    // Rendered with every User a read, write or delivery touches.
    return this.q.groupsOf.all({ id: memberId }) as { value: string; display: string }[];
  }

  /** Which of `ids` exist, and as what (a member must be an existing User or Group). */
  async resolveMemberTypes(ids: string[]): Promise<Map<string, "User" | "Group">> {
    const found = new Map<string, "User" | "Group">();
    if (ids.length === 1) {
      // The usual PATCH: one member. Two point lookups, no IN list to build.
      const id = ids[0]!;
      if (this.q.User.exists.get({ id })) found.set(id, "User");
      else if (this.q.Group.exists.get({ id })) found.set(id, "Group");
      return found;
    }
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      for (const r of this.db.select({ id: users.id }).from(users).where(inArray(users.id, chunk)).all()) found.set(r.id, "User");
      for (const r of this.db.select({ id: groups.id }).from(groups).where(inArray(groups.id, chunk)).all()) found.set(r.id, "Group");
    }
    return found;
  }

  /**
   * Inserts members that are not there yet, each with its display (the member's displayName, else
   * a user's userName: what was rendered before the display was kept with the row), read from the
   * member's row in the same statement; returns the ids actually added (idempotent add).
   */
  async addMembers(groupId: string, members: { id: string; type: "User" | "Group" }[]): Promise<string[]> {
    // Plain prepared SQL here and below: the membership statements run once per member, and a
    // PATCH of a large group is on the path Entra and Okta use most.
    const insert = this.db.$client.prepare(
      `INSERT INTO group_members (group_id, member_id, member_type, display) SELECT @group, @member, @type, CASE @type WHEN 'User' THEN ${USER_DISPLAY_SQL} ELSE ${GROUP_DISPLAY_SQL} END WHERE true ON CONFLICT DO NOTHING`,
    );
    const added: string[] = [];
    for (const m of members) if (insert.run({ group: groupId, member: m.id, type: m.type }).changes > 0) added.push(m.id);
    return added;
  }

  /** Keeps members.display current where `memberId` is a member (after its name changed). */
  private memberDisplay(memberId: string, display: string | null): void {
    this.q.memberDisplay.run({ id: memberId, display });
  }

  /** Deletes the given members; returns the ids actually removed (removing an absent one is a no-op). */
  async removeMembers(groupId: string, ids: string[]): Promise<string[]> {
    const removed: string[] = [];
    for (const id of ids) if (this.q.removeMember.run({ group: groupId, member: id }).changes > 0) removed.push(id);
    return removed;
  }

  // ---- outbox ----

  async recordChange(c: {
    kind: ResourceKind;
    id: string;
    op: "create" | "update" | "delete";
    version: number;
    at: string;
    client?: string | undefined;
    before?: Record<string, unknown> | undefined;
    after?: Record<string, unknown> | undefined;
    membersAdded?: string[] | undefined;
    membersRemoved?: string[] | undefined;
  }): Promise<void> {
    const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
    const membersAdded = c.membersAdded?.length ? JSON.stringify(c.membersAdded) : null;
    const membersRemoved = c.membersRemoved?.length ? JSON.stringify(c.membersRemoved) : null;
    this.writes.insert(changes, {
        resourceType: c.kind,
        resourceId: c.id,
        op: c.op,
        version: c.version,
        at: c.at,
        client: c.client ?? null,
        before: json(c.before),
        after: json(c.after),
        membersAdded,
        membersRemoved,
    });
  }
}
