/** The drizzle database on PostgreSQL (node-postgres): what the PostgreSQL engine's query objects are built on. */
import type { NodePgDatabase } from "drizzle-orm/node-postgres";
import type * as schema from "../schema-pg.js";

/** drizzle on a pool (autocommit statements) or on one client inside a transaction. */
export type PgDb = NodePgDatabase<typeof schema>;
