/**
 * Opens the SQLite store: WAL, foreign keys, the scim_fold() function, and the committed
 * drizzle-kit migrations applied at start-up.
 */
import Database from "better-sqlite3";
import { drizzle, type BetterSQLite3Database } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { FOLD_SQL_FUNCTION, fold } from "./fold.js";
import * as schema from "./schema.js";

export type Db = BetterSQLite3Database<typeof schema>;

export interface Store {
  db: Db;
  sqlite: Database.Database;
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

export function openStore(file: string): Store {
  if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
  const sqlite = new Database(file);
  sqlite.pragma("journal_mode = WAL");
  // NORMAL is durable across process crashes in WAL mode (only an OS crash can lose the last commits).
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  sqlite.function(FOLD_SQL_FUNCTION, { deterministic: true }, (v: unknown) =>
    typeof v === "string" ? fold(v) : v,
  );
  const db = drizzle(sqlite, { schema });
  migrate(db, { migrationsFolder: migrationsFolder() });
  return { db, sqlite, close: () => sqlite.close() };
}
