/**
 * The two engines' schemas stay one schema: the SQLite migrations applied to a temp file and the
 * PostgreSQL migrations applied to a fresh PostgreSQL database must read back the same tables,
 * columns (name, nullability, a compatible type), primary keys, foreign keys and indexes (name,
 * uniqueness, columns). db:check ties each schema file to its migrations; this ties the two
 * engines together, and also compares the drizzle table objects, so a column added to one schema
 * file fails here even before its migration is generated. drizzle's own bookkeeping tables are
 * left out.
 */
import Database from "better-sqlite3";
import { Column, is } from "drizzle-orm";
import { getTableConfig as pgTableConfig, PgTable } from "drizzle-orm/pg-core";
import { getTableConfig as sqliteTableConfig, SQLiteTable } from "drizzle-orm/sqlite-core";
import { drizzle } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migratePostgres } from "../../db/migrate-pg.js";
import * as pgSchema from "../../db/schema-pg.js";
import * as sqliteSchema from "../../db/schema.js";
import { usePostgres } from "../harness/postgres.js";

/**
 * Differences that are intended, each with its reason. users_seq and groups_seq exist in SQLite
 * because its primary key is the table itself (the rowid), so a deep OFFSET would read whole rows;
 * PostgreSQL's primary key index on seq already is an index on seq alone (db/schema-pg.ts).
 */
const SQLITE_ONLY_INDEXES = new Set(["users_seq", "groups_seq"]);
/**
 * Columns only PostgreSQL has, as "table.column". group_members.position records insertion order,
 * which SQLite keeps in the implicit rowid (members are listed in the order they were added,
 * db/resources.ts and db/pg/resources.ts); PostgreSQL has no rowid (ctid moves on update).
 */
const PG_ONLY_COLUMNS = new Set(["group_members.position"]);
const pgOnly = (table: string, column: string) => PG_ONLY_COLUMNS.has(`${table}.${column}`);
/** SQLite column type → the PostgreSQL types it may become (db/schema-pg.ts says which and why). */
const COMPATIBLE_TYPES: Record<string, string[]> = {
  integer: ["integer", "bigint", "boolean"],
  text: ["text", "jsonb"],
};

interface ColumnShape {
  name: string;
  nullable: boolean;
  type: string;
}
interface Index {
  table: string;
  unique: boolean;
  partial: boolean;
  columns: string[];
}
interface ForeignKey {
  columns: string[];
  references: string;
  to: string[];
  onDelete: string;
}
interface Shape {
  columns: Map<string, ColumnShape[]>;
  primaryKeys: Map<string, string[]>;
  foreignKeys: Map<string, ForeignKey[]>;
  /** Named indexes other than the primary key's. */
  indexes: Map<string, Index>;
}

const root = resolve(import.meta.dirname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "scimbridge-parity-"));
const sqlite = new Database(join(dir, "scim.db"));
const pg = usePostgres();
let pool: Pool;

beforeAll(async () => {
  migrate(drizzle(sqlite), { migrationsFolder: join(root, "db", "migrations") });
  pool = new Pool({ connectionString: pg.url, max: 2 });
  await migratePostgres(pool);
});
afterAll(async () => {
  await pool?.end();
  sqlite.close();
  rmSync(dir, { recursive: true, force: true });
});

function readSqlite(): Shape {
  const shape: Shape = { columns: new Map(), primaryKeys: new Map(), foreignKeys: new Map(), indexes: new Map() };
  const tables = sqlite
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> '__drizzle_migrations' ORDER BY name")
    .pluck()
    .all() as string[];
  for (const t of tables) {
    const cols = sqlite.prepare("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?) ORDER BY cid").all(t) as { name: string; type: string; notnull: number; pk: number }[];
    shape.columns.set(t, cols.map((c) => ({ name: c.name, nullable: c.notnull === 0, type: c.type.toLowerCase() })));
    shape.primaryKeys.set(t, cols.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name));
    const fks = sqlite.prepare('SELECT id, "table", "from", "to", on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq').all(t) as { id: number; table: string; from: string; to: string; on_delete: string }[];
    const byId = new Map<number, ForeignKey>();
    for (const f of fks) {
      const fk = byId.get(f.id) ?? { columns: [], references: f.table, to: [], onDelete: f.on_delete.toLowerCase() };
      fk.columns.push(f.from);
      fk.to.push(f.to);
      byId.set(f.id, fk);
    }
    shape.foreignKeys.set(t, [...byId.values()]);
    const indexes = sqlite.prepare("SELECT name, \"unique\", origin, partial FROM pragma_index_list(?)").all(t) as { name: string; unique: number; origin: string; partial: number }[];
    for (const i of indexes.filter((i) => i.origin !== "pk")) {
      const columns = (sqlite.prepare("SELECT name FROM pragma_index_info(?) ORDER BY seqno").pluck().all(i.name) as string[]);
      shape.indexes.set(i.name, { table: t, unique: i.unique === 1, partial: i.partial === 1, columns });
    }
  }
  return shape;
}

async function readPostgres(): Promise<Shape> {
  const shape: Shape = { columns: new Map(), primaryKeys: new Map(), foreignKeys: new Map(), indexes: new Map() };
  const cols = await pool.query<{ table_name: string; column_name: string; is_nullable: string; data_type: string }>(
    "SELECT table_name, column_name, is_nullable, data_type FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
  );
  for (const c of cols.rows) {
    if (pgOnly(c.table_name, c.column_name)) continue;
    const list = shape.columns.get(c.table_name) ?? [];
    list.push({ name: c.column_name, nullable: c.is_nullable === "YES", type: c.data_type });
    shape.columns.set(c.table_name, list);
  }
  // Index columns in key order (indkey), with whether the index is the primary key's.
  const indexes = await pool.query<{ table: string; name: string; unique: boolean; primary: boolean; partial: boolean; columns: string[] }>(`
    SELECT t.relname AS table, i.relname AS name, x.indisunique AS unique, x.indisprimary AS primary, x.indpred IS NOT NULL AS partial,
           array(SELECT a.attname::text FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
                 JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.n) AS columns
      FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace
     WHERE n.nspname = 'public'`);
  for (const i of indexes.rows) {
    if (i.primary) shape.primaryKeys.set(i.table, i.columns);
    else shape.indexes.set(i.name, { table: i.table, unique: i.unique, partial: i.partial, columns: i.columns });
  }
  for (const t of shape.columns.keys()) if (!shape.primaryKeys.has(t)) shape.primaryKeys.set(t, []);
  const fks = await pool.query<{ table: string; references: string; columns: string[]; to: string[]; on_delete: string }>(`
    SELECT c.conrelid::regclass::text AS table, c.confrelid::regclass::text AS references,
           array(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, n)
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.n) AS columns,
           array(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, n)
                 JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.n) AS to,
           CASE c.confdeltype WHEN 'c' THEN 'cascade' WHEN 'a' THEN 'no action' WHEN 'r' THEN 'restrict' WHEN 'n' THEN 'set null' ELSE 'set default' END AS on_delete
      FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
     WHERE c.contype = 'f' AND n.nspname = 'public' ORDER BY c.conname`);
  for (const t of shape.columns.keys()) shape.foreignKeys.set(t, []);
  for (const f of fks.rows) shape.foreignKeys.get(f.table)?.push({ columns: f.columns, references: f.references, to: f.to, onDelete: f.on_delete });
  return shape;
}

/** A drizzle table's column properties (a pg table also carries methods such as enableRLS). */
const columnKeys = (table: object) => Object.entries(table).filter(([, v]) => is(v, Column)).map(([k]) => k).sort();

const sorted = <T>(m: Map<string, T>) => Object.fromEntries([...m].sort(([a], [b]) => a.localeCompare(b)));

describe("SQLite and PostgreSQL schemas", () => {
  let lite: Shape;
  let post: Shape;
  beforeAll(async () => {
    lite = readSqlite();
    post = await readPostgres();
  });

  it("have the same tables, with the same columns and the same nullability", () => {
    expect(lite.columns.size).toBeGreaterThan(10); // the migrations were applied
    // By name, not position: SQLite's ALTER TABLE ADD appends, so its order records the history.
    const names = (s: Shape) => sorted(new Map([...s.columns].map(([t, cols]) => [t, cols.map((c) => `${c.name}${c.nullable ? "" : " NOT NULL"}`).sort()])));
    expect(names(post)).toEqual(names(lite));
  });

  it("map each column to a PostgreSQL type its SQLite type allows", () => {
    const mismatches: string[] = [];
    for (const [t, cols] of lite.columns) {
      for (const c of cols) {
        const other = post.columns.get(t)?.find((p) => p.name === c.name);
        if (other && !(COMPATIBLE_TYPES[c.type] ?? []).includes(other.type)) mismatches.push(`${t}.${c.name}: ${c.type} → ${other.type}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it("have the same primary keys and foreign keys", () => {
    expect(sorted(post.primaryKeys)).toEqual(sorted(lite.primaryKeys));
    expect(sorted(post.foreignKeys)).toEqual(sorted(lite.foreignKeys));
    expect(lite.foreignKeys.get("user_emails")).toEqual([{ columns: ["user_id"], references: "users", to: ["id"], onDelete: "cascade" }]);
  });

  it("have the same indexes by name, uniqueness, partiality and columns (SQLite's seq-only indexes aside)", () => {
    const liteIndexes = new Map([...lite.indexes].filter(([name]) => !SQLITE_ONLY_INDEXES.has(name)));
    expect(sorted(post.indexes)).toEqual(sorted(liteIndexes));
    // The listed exceptions still exist in SQLite, so the list cannot go stale unnoticed.
    for (const name of SQLITE_ONLY_INDEXES) expect(lite.indexes.get(name)?.columns).toEqual(["seq"]);
  });

  it("declare the same drizzle tables: TypeScript keys, SQL names and nullability (before any migration is generated)", () => {
    const describeTables = (tables: { name: string; columns: { name: string; notNull: boolean }[]; keys: string[] }[]) =>
      Object.fromEntries(tables.map((t) => [t.name, { keys: t.keys, columns: t.columns.map((c) => `${c.name}${c.notNull ? " NOT NULL" : ""}`).sort() }]));
    const fromSqlite = Object.values(sqliteSchema).flatMap((t) => (is(t, SQLiteTable) ? [{ ...sqliteTableConfig(t), keys: columnKeys(t) }] : []));
    const fromPg = Object.values(pgSchema).flatMap((t) => {
      if (!is(t, PgTable)) return [];
      const config = pgTableConfig(t);
      const columns = config.columns.filter((c) => !pgOnly(config.name, c.name));
      return [{ ...config, columns, keys: columnKeys(t).filter((k) => columns.some((c) => c.name === (t[k as keyof typeof t] as { name: string }).name)) }];
    });
    expect(fromPg.length).toBeGreaterThan(10);
    expect(Object.keys(pgSchema).sort()).toEqual(Object.keys(sqliteSchema).sort());
    expect(describeTables(fromPg)).toEqual(describeTables(fromSqlite));
  });

  it("differ by the listed PostgreSQL-only columns, which exist there", async () => {
    for (const name of PG_ONLY_COLUMNS) {
      const [table, column] = name.split(".") as [string, string];
      const found = await pool.query("SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 AND column_name = $2", [table, column]);
      expect(found.rowCount, name).toBe(1);
      expect(lite.columns.get(table)?.some((c) => c.name === column), name).toBe(false);
    }
  });
});
