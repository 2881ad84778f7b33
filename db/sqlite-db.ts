/** The drizzle database on one better-sqlite3 connection: what the SQLite engine's query objects are built on. */
import type Database from "better-sqlite3";
import type { BetterSQLite3Database } from "drizzle-orm/better-sqlite3";
import type * as schema from "./schema.js";

/** The drizzle database, with the better-sqlite3 connection it wraps (for plain prepared SQL on hot paths). */
export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };
