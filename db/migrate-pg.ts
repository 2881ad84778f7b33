/**
 * Applies the committed PostgreSQL migrations (db/migrations-pg, drizzle-kit's postgresql
 * dialect) at start-up. Several replicas may start at once against one database, so the
 * migrator runs under a session-level advisory lock that every replica takes with the same key:
 * one applies what is missing while the others wait, then find nothing left to do.
 *
 * Without the lock two migrators race: drizzle reads the last applied migration before its
 * transaction, so both would apply the same one and the second fails on "already exists"; and its
 * CREATE SCHEMA/TABLE IF NOT EXISTS bookkeeping is not safe against a concurrent twin either
 * (a unique violation in the catalogs).
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import type { Pool } from "pg";
import { CREATE_PG_FOLD_FUNCTION } from "./fold-pg.js";

/**
 * The advisory lock key for migrations: the bytes of "scimmigr" as a bigint. A constant, never a
 * hash computed at run time, so every version of scimbridge agrees on it. Advisory locks are per
 * database (https://www.postgresql.org/docs/15/explicit-locking.html#ADVISORY-LOCKS).
 */
export const MIGRATIONS_LOCK_KEY = "8314605255764043634";

/** db/migrations-pg, found from the source tree or from dist/db (the build does not copy SQL). */
export function pgMigrationsFolder(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, "migrations-pg"), join(here, "..", "..", "db", "migrations-pg")];
  const found = candidates.find((c) => existsSync(join(c, "meta", "_journal.json")));
  if (found) return found;
  throw new Error(`db/migrations-pg not found next to ${here}`);
}

/**
 * Applies the migrations not yet applied, then (re)creates scim_fold() (db/fold-pg.ts), holding
 * pg_advisory_lock(MIGRATIONS_LOCK_KEY) on one connection of `pool` throughout: the lock belongs
 * to a session, so the migrator must run on that same connection, not on whichever connection the
 * pool hands out next.
 *
 * scim_fold() is not in the drizzle-kit migrations (drizzle-kit does not manage functions), and
 * it is created at every start rather than once, so a release that changes fold() replaces it.
 * Under the lock too: two concurrent CREATE OR REPLACE FUNCTION of one function can fail with
 * "tuple concurrently updated", as both update the same pg_proc row.
 */
export async function migratePostgres(pool: Pool): Promise<void> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // A checked-out client whose connection is lost emits "error", which must have a listener or
  // it ends the process (https://node-postgres.com/apis/pool); the statement under way fails too.
  const lost = (e: Error) => (broken = e);
  client.on("error", lost);
  try {
    // Without the pool's per-session limits (db/pg/open.ts sets lock_timeout and
    // statement_timeout for the SCIM path): waiting for another replica's migration is a lock
    // wait, and an index built over millions of rows is a long statement; neither is a fault.
    // RESET afterwards returns the pooled session to its connection-time values.
    await client.query("SET lock_timeout = 0; SET statement_timeout = 0");
    await client.query("SELECT pg_advisory_lock($1::bigint)", [MIGRATIONS_LOCK_KEY]);
    try {
      await migrate(drizzle({ client }), { migrationsFolder: pgMigrationsFolder() });
      await client.query(CREATE_PG_FOLD_FUNCTION);
    } finally {
      await client.query("SELECT pg_advisory_unlock($1::bigint)", [MIGRATIONS_LOCK_KEY]);
    }
    await client.query("RESET lock_timeout; RESET statement_timeout");
  } catch (e) {
    broken = e as Error;
    throw e;
  } finally {
    // After a failure the connection is closed rather than pooled: if the unlock did not happen,
    // ending the session is what releases the lock for the other replicas.
    client.off("error", lost);
    client.release(broken);
  }
}
