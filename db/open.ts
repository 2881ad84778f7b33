/**
 * Opens the SQLite store: WAL, foreign keys, the scim_fold() function, and the committed
 * drizzle-kit migrations applied at start-up.
 */
import Database from "better-sqlite3";
import { drizzle } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { dirname } from "node:path";
import { ensurePrivateDir, restrictDatabaseFiles } from "./file-modes.js";
import { FOLD_SQL_FUNCTION, fold } from "../schemas/fold.js";
import * as schema from "./schema.js";
import { migrationsFolder } from "./schema-version.js";
import { SqliteEngine, type SqliteStore } from "./sqlite-engine.js";

export type { Db } from "./sqlite-db.js";
export type { SqliteStore } from "./sqlite-engine.js";
export type { Store } from "./store.js";

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

function connect(file: string, readonly: boolean): Database.Database {
  const sqlite = new Database(file, { readonly });
  if (!readonly) {
    sqlite.pragma("journal_mode = WAL");
    // NORMAL is durable across process crashes in WAL mode (only an OS crash can lose the last commits).
    sqlite.pragma("synchronous = NORMAL");
  }
  // 64 MiB of page cache instead of SQLite's 2 MiB: with 100,000 users the indexes the write and
  // delivery paths walk no longer fit in 2 MiB, and every miss is a read from the OS.
  sqlite.pragma("cache_size = -65536");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  sqlite.function(FOLD_SQL_FUNCTION, { deterministic: true }, (v: unknown) =>
    typeof v === "string" ? fold(v) : v,
  );
  cacheStatements(sqlite);
  return sqlite;
}

export function openStore(file: string): SqliteStore {
  if (file !== ":memory:") {
    ensurePrivateDir(dirname(file));
    restrictDatabaseFiles(file);
  }
  const writer = connect(file, false);
  const db = drizzle(writer, { schema });
  migrate(db, { migrationsFolder: migrationsFolder() });
  const reader = file === ":memory:" ? writer : connect(file, true);
  return new SqliteEngine(writer, db, { sqlite: reader, db: reader === writer ? db : drizzle(reader, { schema }) });
}
