/**
 * Queries for Users and Groups. Every write runs inside a caller's synchronous transaction
 * (better-sqlite3: never await inside one, scimmy-pitfalls.md) together with its outbox row.
 */
import { asc, count, desc, eq, inArray, sql, type SQL } from "drizzle-orm";
import type { ResourceKind } from "../schemas/registry.js";
import { fold } from "../schemas/fold.js";
import type { Db } from "./open.js";
import { insertRow, updateRow } from "./raw.js";
import type { OutboxEntry } from "./sync.js";
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

type Row = { id: string; data: string; created: string; lastModified: string; version: number };

const toStored = (r: Row): StoredResource => ({
  id: r.id,
  attributes: JSON.parse(r.data) as Record<string, unknown>,
  created: r.created,
  lastModified: r.lastModified,
  version: r.version,
});

const tableOf = (kind: ResourceKind) => (kind === "User" ? users : groups);

const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);

/** Key columns derived from the attributes; the JSON stays the truth for everything else. */
function userColumns(a: Record<string, unknown>) {
  const userName = String(a.userName);
  const displayName = str(a.displayName);
  return {
    userName,
    userNameKey: fold(userName),
    externalId: str(a.externalId),
    displayNameKey: displayName === null ? null : fold(displayName),
    active: typeof a.active === "boolean" ? a.active : null,
  };
}

function groupColumns(a: Record<string, unknown>) {
  const displayName = String(a.displayName);
  return { displayName, displayNameKey: fold(displayName), externalId: str(a.externalId) };
}

function emailRows(id: string, a: Record<string, unknown>) {
  const emails = Array.isArray(a.emails) ? (a.emails as Record<string, unknown>[]) : [];
  return emails.map((e, position) => {
    const value = str(e.value);
    return {
      userId: id,
      position,
      value,
      valueKey: value === null ? null : fold(value),
      type: str(e.type),
      primary: e.primary === true,
    };
  });
}

export class ResourceQueries {
  constructor(private readonly db: Db) {}

  get(kind: ResourceKind, id: string): StoredResource | undefined {
    // Plain prepared SQL: every read, write and delivery starts here (see db/raw.ts for why).
    const table = kind === "User" ? "users" : "groups";
    const row = this.db.$client.prepare(`SELECT id, data, created, last_modified AS lastModified, version FROM ${table} WHERE id = ?`).get(id) as Row | undefined;
    return row ? toStored(row) : undefined;
  }

  exists(kind: ResourceKind, id: string): boolean {
    const t = tableOf(kind);
    return this.db.select({ one: sql`1` }).from(t).where(eq(t.id, id)).get() !== undefined;
  }

  /** totalResults from COUNT(*), then only the page is loaded (design.md decision 5). */
  count(kind: ResourceKind, where?: SQL): number {
    const t = tableOf(kind);
    return this.db.select({ n: count() }).from(t).where(where).get()?.n ?? 0;
  }

  page(kind: ResourceKind, q: ListQuery): StoredResource[] {
    if (q.limit <= 0) return [];
    return this.pageQuery(kind, q).all().map(toStored);
  }

  /**
   * Whether the page's ORDER BY needs a sort of every matching row (SQLite's query plan says
   * "USE TEMP B-TREE FOR ORDER BY": no index delivers the order), rather than an index walk.
   */
  sortsEveryRow(kind: ResourceKind, q: ListQuery): boolean {
    const { sql: text, params } = this.pageQuery(kind, { ...q, limit: Math.max(q.limit, 1) }).toSQL();
    const plan = this.db.$client.prepare(`EXPLAIN QUERY PLAN ${text}`).all(...(params as unknown[])) as { detail: string }[];
    return plan.some((p) => p.detail === "USE TEMP B-TREE FOR ORDER BY");
  }

  private pageQuery(kind: ResourceKind, q: ListQuery) {
    const t = tableOf(kind);
    const dir = q.descending ? desc : asc;
    // seq breaks ties so the order is stable across pages (Okta's import pages by startIndex).
    const order = q.orderBy ? [dir(q.orderBy), dir(t.seq)] : [dir(t.seq)];
    return this.db
      .select({ id: t.id, data: t.data, created: t.created, lastModified: t.lastModified, version: t.version })
      .from(t)
      .where(q.where)
      .orderBy(...order)
      .limit(q.limit)
      .offset(q.offset);
  }

  insert(kind: ResourceKind, r: StoredResource): void {
    const data = JSON.stringify(r.attributes);
    const meta = { id: r.id, data, created: r.created, lastModified: r.lastModified, version: r.version };
    if (kind === "User") {
      insertRow(this.db.$client, users, { ...meta, ...userColumns(r.attributes) });
      this.writeEmails(r);
    } else {
      insertRow(this.db.$client, groups, { ...meta, ...groupColumns(r.attributes) });
    }
  }

  update(kind: ResourceKind, r: StoredResource): void {
    const data = JSON.stringify(r.attributes);
    const set = { data, lastModified: r.lastModified, version: r.version };
    if (kind === "User") {
      updateRow(this.db.$client, users, { ...set, ...userColumns(r.attributes) }, { id: r.id });
      this.db.$client.prepare("DELETE FROM user_emails WHERE user_id = ?").run(r.id);
      this.writeEmails(r);
    } else {
      updateRow(this.db.$client, groups, { ...set, ...groupColumns(r.attributes) }, { id: r.id });
    }
  }

  /** Bumps version and lastModified only (a membership change alters the group, RFC 7643 §3.1). */
  touch(kind: ResourceKind, id: string, lastModified: string): number {
    const table = kind === "User" ? "users" : "groups";
    const row = this.db.$client.prepare(`UPDATE ${table} SET last_modified = ?, version = version + 1 WHERE id = ? RETURNING version`).get(lastModified, id) as { version: number } | undefined;
    return row?.version ?? 0;
  }

  delete(kind: ResourceKind, id: string): void {
    const t = tableOf(kind);
    // A deleted resource leaves every group it was in (RFC 7644 §3.6: it is no longer a member).
    this.db.delete(groupMembers).where(eq(groupMembers.memberId, id)).run();
    this.db.delete(t).where(eq(t.id, id)).run();
  }

  private writeEmails(r: StoredResource): void {
    const rows = emailRows(r.id, r.attributes);
    for (const row of rows) insertRow(this.db.$client, userEmails, row);
  }

  // ---- membership (its own table, design.md decision 4) ----

  /** Member ids of a group in insertion order, with their type. */
  memberIds(groupId: string): { id: string; type: string }[] {
    return this.db
      .select({ id: groupMembers.memberId, type: groupMembers.memberType })
      .from(groupMembers)
      .where(eq(groupMembers.groupId, groupId))
      .orderBy(sql`rowid`)
      .all();
  }

  /** Members with their display value: a user's displayName (else userName), a group's displayName. */
  members(groupId: string): { value: string; type: string; display: string | null }[] {
    return this.db.all<{ value: string; type: string; display: string | null }>(sql`
      SELECT m.member_id AS value, m.member_type AS type,
             COALESCE(json_extract(u.data, '$.displayName'), u.user_name, g.display_name) AS display
      FROM group_members m
      LEFT JOIN users u ON m.member_type = 'User' AND u.id = m.member_id
      LEFT JOIN groups g ON m.member_type = 'Group' AND g.id = m.member_id
      WHERE m.group_id = ${groupId}
      ORDER BY m.rowid`);
  }

  /** Groups that directly contain `memberId` (the User's readOnly `groups`, RFC 7643 §4.1.2). */
  groupsOf(memberId: string): { value: string; display: string }[] {
    // Plain prepared SQL: rendered with every User a read, write or delivery touches.
    return this.db.$client
      .prepare("SELECT g.id AS value, g.display_name AS display FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.member_id = ? ORDER BY g.seq")
      .all(memberId) as { value: string; display: string }[];
  }

  /** Which of `ids` exist, and as what (a member must be an existing User or Group). */
  resolveMemberTypes(ids: string[]): Map<string, "User" | "Group"> {
    const found = new Map<string, "User" | "Group">();
    if (ids.length === 1) {
      // The usual PATCH: one member. Two point lookups, no IN list to build.
      const id = ids[0]!;
      if (this.db.$client.prepare("SELECT 1 FROM users WHERE id = ?").get(id)) found.set(id, "User");
      else if (this.db.$client.prepare("SELECT 1 FROM groups WHERE id = ?").get(id)) found.set(id, "Group");
      return found;
    }
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      for (const r of this.db.select({ id: users.id }).from(users).where(inArray(users.id, chunk)).all()) found.set(r.id, "User");
      for (const r of this.db.select({ id: groups.id }).from(groups).where(inArray(groups.id, chunk)).all()) found.set(r.id, "Group");
    }
    return found;
  }

  /** Inserts members that are not there yet; returns the ids actually added (idempotent add). */
  addMembers(groupId: string, members: { id: string; type: "User" | "Group" }[]): string[] {
    // Plain prepared SQL here and below: the membership statements run once per member, and a
    // PATCH of a large group is on the path Entra and Okta use most.
    const insert = this.db.$client.prepare("INSERT INTO group_members (group_id, member_id, member_type) VALUES (?, ?, ?) ON CONFLICT DO NOTHING");
    const added: string[] = [];
    for (const m of members) if (insert.run(groupId, m.id, m.type).changes > 0) added.push(m.id);
    return added;
  }

  /** Deletes the given members; returns the ids actually removed (removing an absent one is a no-op). */
  removeMembers(groupId: string, ids: string[]): string[] {
    const del = this.db.$client.prepare("DELETE FROM group_members WHERE group_id = ? AND member_id = ?");
    const removed: string[] = [];
    for (const id of ids) if (del.run(groupId, id).changes > 0) removed.push(id);
    return removed;
  }

  // ---- outbox ----

  recordChange(c: {
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
  }): OutboxEntry {
    const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
    const membersAdded = c.membersAdded?.length ? JSON.stringify(c.membersAdded) : null;
    const membersRemoved = c.membersRemoved?.length ? JSON.stringify(c.membersRemoved) : null;
    const { lastInsertRowid } = insertRow(this.db.$client, changes, {
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
    // The row as the fan-out would read it back (SyncQueries.changedSince): group details only.
    const group = c.kind === "Group";
    const display = (a: Record<string, unknown> | undefined) => (group && a?.displayName !== undefined ? (a.displayName as string) : null);
    return {
      seq: Number(lastInsertRowid),
      kind: c.kind,
      id: c.id,
      op: c.op,
      membersAdded: group ? membersAdded : null,
      membersRemoved: group ? membersRemoved : null,
      displayBefore: display(c.before),
      displayAfter: display(c.after),
    };
  }
}
