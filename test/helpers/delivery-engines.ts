/**
 * The delivery side of the store on both engines, for the suites that run one behaviour over
 * each (test/db/sync-engines.test.ts, test/db/member-sync-engines.test.ts): SQLite's query objects
 * (openStore on a temp file, a fresh file per test) and PostgreSQL's (db/pg/, through
 * openPostgresStore on the harness's PostgreSQL, its tables emptied before each test). Writes go
 * through each store's transaction; reads through its getters outside one. Resources and outbox
 * rows are seeded with plain SQL both engines take: the resource queries are tested elsewhere.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe } from "vitest";
import { openStore, type SqliteStore } from "../../db/open.js";
import { openPostgresStore, type PostgresEngine } from "../../db/pg/open.js";
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

export interface Engine {
  /** The query objects outside a transaction. */
  read: Queries;
  /** Runs `fn` in a write transaction (Store.transaction), given the transaction's query objects. */
  write<T>(fn: (q: Queries) => Promise<T>): Promise<T>;
  /** Plain SQL with `?` parameters, in a transaction of its own (seeding). */
  exec(text: string, params?: unknown[]): Promise<void>;
  /** Plain SQL run in a transaction that stays open, holding what it wrote, until `commit` is called. */
  hold(text: string, params?: unknown[]): Promise<{ commit(): Promise<void> }>;
  /** The rows of a plain SQL query, outside any transaction. */
  rows(text: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

function sqliteEngine(dir: string, file: string): Engine {
  const store: SqliteStore = openStore(join(dir, file));
  const run = (text: string, params: unknown[] = []) => store.transaction(async () => void store.sqlite.prepare(text).run(...params));
  return {
    read: store,
    write: (fn) => store.transaction(fn),
    exec: run,
    async hold(text, params = []) {
      let commit!: () => void;
      const open = new Promise<void>((r) => (commit = r));
      let began!: () => void;
      const begun = new Promise<void>((r) => (began = r));
      const done = store.transaction(async () => {
        store.sqlite.prepare(text).run(...params);
        began();
        await open;
      });
      await begun;
      return { commit: () => (commit(), done) };
    },
    rows: async (text, params = []) => store.sqlite.prepare(text).all(...params) as Record<string, unknown>[],
    close: () => store.close(),
  };
}

/** Empties every table of the store (drizzle keeps its migrations in a schema of its own), whatever tables the schema has now. */
const EMPTY_TABLES = `DO $$ BEGIN
  EXECUTE (SELECT 'TRUNCATE ' || string_agg(format('%I', tablename), ', ') || ' RESTART IDENTITY' FROM pg_tables WHERE schemaname = 'public');
END $$`;

/** `?` parameters as PostgreSQL's `$1, $2, …`. */
function numbered(text: string): string {
  let i = 0;
  return text.replace(/\?/g, () => `$${++i}`);
}

/** The engine's store (openPostgresStore), its tables emptied first. */
async function postgresEngine(store: PostgresEngine): Promise<Engine> {
  const pool = store.pool;
  await pool.query(EMPTY_TABLES);
  return {
    read: store,
    write: (fn) => store.transaction(fn),
    exec: async (text, params = []) => void (await pool.query(numbered(text), params)),
    async hold(text, params = []) {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        await client.query(numbered(text), params);
      } catch (e) {
        client.release(e as Error);
        throw e;
      }
      return {
        commit: async () => {
          try {
            await client.query("COMMIT");
          } finally {
            client.release();
          }
        },
      };
    },
    rows: async (text, params = []) => (await pool.query(numbered(text), params)).rows as Record<string, unknown>[],
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
  let postgres: PostgresEngine | undefined;
  let files = 0;
  afterAll(async () => {
    await postgres?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const engines = [
    ["SQLite", async () => sqliteEngine(dir, `scim-${++files}.db`)],
    ["PostgreSQL", async () => postgresEngine((postgres ??= await openPostgresStore({ url: pg.url, pool: { max: 4 } })))],
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
