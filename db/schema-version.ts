/**
 * Which schema a database holds: the drizzle-kit migrations committed with this build (their
 * journal in db/migrations) against those applied to the database (drizzle's own
 * __drizzle_migrations table, written by migrate() at start-up).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { migrationsFolder, type Store } from "./open.js";

/** Migrations committed with this build. */
export function committedMigrations(): number {
  const journal = JSON.parse(readFileSync(join(migrationsFolder(), "meta", "_journal.json"), "utf8")) as { entries: unknown[] };
  return journal.entries.length;
}

/** Migrations applied to the database; throws when it cannot be read. */
export function appliedMigrations(store: Pick<Store, "db">): number {
  return store.db.get<{ n: number }>(sql`SELECT count(*) AS n FROM __drizzle_migrations`).n;
}
