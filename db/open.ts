/**
 * Opens the SQLite store: WAL, foreign keys, the scim_fold() function, and the committed
 * drizzle-kit migrations applied at start-up.
 */
import Database from "better-sqlite3";
import { drizzle, type BetterSQLite3Database } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensurePrivateDir, restrictDatabaseFiles } from "./file-modes.js";
import { FOLD_SQL_FUNCTION, fold } from "../schemas/fold.js";
import * as schema from "./schema.js";

/** The drizzle database, with the better-sqlite3 connection it wraps (for plain prepared SQL on hot paths). */
export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

export interface Store {
  db: Db;
  sqlite: Database.Database;
  /**
   * Runs `fn` in a write transaction taken at once (BEGIN IMMEDIATE: the write lock is held from
   * the start, so a read inside cannot go stale before the write), committed when it returns and
   * rolled back when it throws. Inside another transaction, it is a savepoint of it.
   */
  transaction<T>(fn: () => T): T;
  /** Runs `fn` in a savepoint of the enclosing transaction: rolled back alone when it throws. */
  savepoint<T>(fn: () => T): T;
  close(): void;
}

/** db/migrations, found from the source tree or from dist/db (the build does not copy SQL). */
export function migrationsFolder(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, "migrations"), join(here, "..", "..", "db", "migrations")];
  const found = candidates.find((c) => existsSync(join(c, "meta", "_journal.json")));
  if (found) return found;
  throw new Error(`db/migrations not found next to ${here}`);
}

const STATEMENT_CACHE_SIZE = 2000;

/**
 * drizzle prepares every statement again on each execution (measured: ~20% of a provisioning
 * run's CPU in prepare and query building). Statements are reusable in better-sqlite3, so
 * prepare() is memoised per SQL text, bounded (filters make SQL text vary). drizzle switches a
 * statement to raw (array rows) mode for typed selects and never back, so a reused reader is reset
 * to object rows; drizzle calls raw() again itself where it wants arrays.
 */
function cacheStatements(sqlite: Database.Database): void {
  const prepare = sqlite.prepare.bind(sqlite);
  const cache = new Map<string, Database.Statement>();
  sqlite.prepare = ((source: string) => {
    let stmt = cache.get(source);
    if (stmt === undefined) {
      stmt = prepare(source);
      if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
      cache.set(source, stmt);
    } else if (stmt.reader) {
      stmt.raw(false);
    }
    return stmt;
  }) as typeof sqlite.prepare;
}

/** Store.transaction on a connection (db/transaction.ts gives it to modules handed only the drizzle database). */
export function writeTransactionOn<T>(sqlite: Database.Database, fn: () => T): T {
  return sqlite.inTransaction ? sqlite.transaction(fn)() : sqlite.transaction(fn).immediate();
}

export function openStore(file: string): Store {
  if (file !== ":memory:") {
    ensurePrivateDir(dirname(file));
    restrictDatabaseFiles(file);
  }
  const sqlite = new Database(file);
  sqlite.pragma("journal_mode = WAL");
  // NORMAL is durable across process crashes in WAL mode (only an OS crash can lose the last commits).
  sqlite.pragma("synchronous = NORMAL");
  // 64 MiB of page cache instead of SQLite's 2 MiB: with 100,000 users the indexes the write and
  // delivery paths walk no longer fit in 2 MiB, and every miss is a read from the OS.
  sqlite.pragma("cache_size = -65536");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  sqlite.function(FOLD_SQL_FUNCTION, { deterministic: true }, (v: unknown) =>
    typeof v === "string" ? fold(v) : v,
  );
  cacheStatements(sqlite);
  const db = drizzle(sqlite, { schema });
  migrate(db, { migrationsFolder: migrationsFolder() });
  return {
    db,
    sqlite,
    transaction: (fn) => writeTransactionOn(sqlite, fn),
    savepoint: (fn) => sqlite.transaction(fn)(),
    close: () => sqlite.close(),
  };
}
