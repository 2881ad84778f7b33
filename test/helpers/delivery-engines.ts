/**
 * The delivery side of the store on both engines, for the suites that run one behaviour over
 * each (test/db/sync-engines.test.ts, test/db/member-sync-engines.test.ts): SQLite's query objects
 * (openStore on a temp file, a fresh file per test, writes inside store.transaction) and
 * PostgreSQL's (db/pg/, built on drizzle over the harness's PostgreSQL, migrated with
 * migratePostgres and emptied before each test; writes inside a BEGIN/COMMIT on one pooled
 * client, as the engine's transactions are). Resources and outbox rows are seeded with plain SQL
 * both engines take: the resource queries are tested elsewhere.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { drizzle } from "drizzle-orm/node-postgres";
import { Pool } from "pg";
import { afterAll, afterEach, beforeEach, describe } from "vitest";
import { migratePostgres } from "../../db/migrate-pg.js";
import { openStore, type SqliteStore } from "../../db/open.js";
import { PgMemberRepairs } from "../../db/pg/member-repairs.js";
import { PgMemberSyncQueries } from "../../db/pg/member-sync.js";
import type { PgDb } from "../../db/pg/pg-db.js";
import { PgRepairRequests } from "../../db/pg/repair-requests.js";
import { PgSyncStatusStore } from "../../db/pg/sync-status.js";
import { PgSyncQueries } from "../../db/pg/sync.js";
import { PgTombstones } from "../../db/pg/tombstones.js";
import * as pgSchema from "../../db/schema-pg.js";
import type { MemberRepairStore, MemberSyncStore, RepairStore, SyncStatusView, SyncStore, TombstoneStore } from "../../db/store.js";
import type { SyncStateRow } from "../../db/sync.js";
import { usePostgres } from "../harness/postgres.js";

export interface Queries {
  sync: SyncStore;
  memberSync: MemberSyncStore;
  memberRepairs: MemberRepairStore;
  repairs: RepairStore;
  syncStatus: SyncStatusView;
  tombstones: TombstoneStore;
}

export type Exec = (text: string, params?: unknown[]) => Promise<void>;

export interface Engine {
  /** The query objects outside a transaction. */
  read: Queries;
  /** Runs `fn` in a write transaction, given the transaction's query objects and plain SQL on its connection. */
  write<T>(fn: (q: Queries, exec: Exec) => Promise<T>): Promise<T>;
  /** Plain SQL with `?` parameters, in a transaction of its own (seeding). */
  exec: Exec;
  /** The rows of a plain SQL query, outside any transaction. */
  rows(text: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

function sqliteEngine(dir: string, file: string): Engine {
  const store: SqliteStore = openStore(join(dir, file));
  return {
    read: store,
    write: (fn) => store.transaction((tx) => fn(tx, async (text, params = []) => void store.sqlite.prepare(text).run(...params))),
    exec: (text, params = []) => store.transaction(async () => void store.sqlite.prepare(text).run(...params)),
    rows: async (text, params = []) => store.sqlite.prepare(text).all(...params) as Record<string, unknown>[],
    close: () => store.close(),
  };
}

const TABLES = "changes, sync_state, group_member_sync, group_members, user_emails, groups, users, pending_secrets, worker_cursor, known_rules, entry_tombstones";

/** `?` parameters as PostgreSQL's `$1, $2, …`. */
function numbered(text: string): string {
  let i = 0;
  return text.replace(/\?/g, () => `$${++i}`);
}

/** The query objects on `p`'s database, emptied first. */
async function postgresEngine(p: Pool): Promise<Engine> {
  await p.query(`TRUNCATE ${TABLES} RESTART IDENTITY`);
  const write = async <T,>(fn: (q: Queries, exec: Exec) => Promise<T>): Promise<T> => {
    const client = await p.connect();
    try {
      await client.query("BEGIN");
      const result = await fn(queriesOn(drizzle(client, { schema: pgSchema })), async (text, params = []) => void (await client.query(numbered(text), params)));
      await client.query("COMMIT");
      return result;
    } catch (e) {
      await client.query("ROLLBACK");
      throw e;
    } finally {
      client.release();
    }
  };
  const queriesOn = (db: PgDb): Queries => ({
    sync: new PgSyncQueries(db),
    memberSync: new PgMemberSyncQueries(db),
    memberRepairs: new PgMemberRepairs(db),
    repairs: new PgRepairRequests(db, { transaction: write }),
    syncStatus: new PgSyncStatusStore(db),
    tombstones: new PgTombstones(db),
  });
  return {
    read: queriesOn(drizzle(p, { schema: pgSchema })),
    write,
    exec: async (text, params = []) => void (await p.query(numbered(text), params)),
    rows: async (text, params = []) => (await p.query(numbered(text), params)).rows as Record<string, unknown>[],
    close: async () => undefined,
  };
}

export const at = "2026-12-06T10:00:00.000Z";
export const later = "2026-12-06T11:00:00.000Z";

/** Seeding with plain SQL that both engines take (the resource queries are tested elsewhere). */
export const seed = (e: Engine) => ({
  user: (id: string, version = 1) =>
    e.exec("INSERT INTO users (id, user_name, user_name_key, data, created, last_modified, version) VALUES (?, ?, ?, '{}', ?, ?, ?)", [id, id, id, at, at, version]),
  group: (id: string, version = 1) =>
    e.exec("INSERT INTO groups (id, display_name, display_name_key, data, created, last_modified, version) VALUES (?, ?, ?, '{}', ?, ?, ?)", [id, id, id, at, at, version]),
  member: (groupId: string, memberId: string, type = "User") => e.exec("INSERT INTO group_members (group_id, member_id, member_type) VALUES (?, ?, ?)", [groupId, memberId, type]),
  change: (kind: string, id: string, op: string, c: { before?: object; after?: object; added?: string[]; removed?: string[]; at?: string } = {}) =>
    e.exec("INSERT INTO changes (resource_type, resource_id, op, version, at, before, after, members_added, members_removed) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?)", [
      kind,
      id,
      op,
      c.at ?? at,
      c.before ? JSON.stringify(c.before) : null,
      c.after ? JSON.stringify(c.after) : null,
      c.added ? JSON.stringify(c.added) : null,
      c.removed ? JSON.stringify(c.removed) : null,
    ]),
});

/** A sync_state row as markPending makes it, then the given columns written. */
export async function row(e: Engine, kind: string, id: string, rule: string, set: Partial<SyncStateRow> = {}, target = "ldap", seq = 1): Promise<void> {
  await e.write(async ({ sync }) => {
    await sync.markPending(kind, id, rule, target, seq, at);
    await sync.update(kind, id, rule, set);
  });
}

export const keys = (rows: Pick<SyncStateRow, "resourceType" | "resourceId" | "rule">[]) => rows.map((r) => `${r.resourceType}:${r.resourceId}:${r.rule}`);
export const sorted = <T,>(xs: T[]) => [...xs].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));

/**
 * Registers `body` once per engine, inside a describe named after it; `engine()` is that test's
 * engine, opened empty before each test and closed after it. Starts the file's PostgreSQL.
 */
export function eachEngine(title: string, body: (engine: () => Engine) => void): void {
  const pg = usePostgres();
  const dir = mkdtempSync(join(tmpdir(), "scimbridge-delivery-engines-"));
  let pool: Pool | undefined;
  let files = 0;
  afterAll(async () => {
    await pool?.end();
    rmSync(dir, { recursive: true, force: true });
  });
  const engines = [
    ["SQLite", async () => sqliteEngine(dir, `scim-${++files}.db`)],
    [
      "PostgreSQL",
      async () => {
        if (!pool) {
          pool = new Pool({ connectionString: pg.url, max: 4 });
          await migratePostgres(pool);
        }
        return postgresEngine(pool);
      },
    ],
  ] as const;
  describe.each(engines)(`${title} on %s`, (_name, open) => {
    let e: Engine | undefined;
    beforeEach(async () => {
      e = await open();
    });
    afterEach(async () => {
      await e?.close();
      e = undefined;
    });
    body(() => e!);
  });
}
