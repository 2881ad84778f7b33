/**
 * Which schema a database holds: the drizzle-kit migrations committed with this build (their
 * journal in db/migrations) against those applied to the database (drizzle's own
 * __drizzle_migrations table, written by migrate() at start-up).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import type { Db } from "./sqlite-db.js";

/** db/migrations, found from the source tree or from dist/db (the build does not copy SQL). */
export function migrationsFolder(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, "migrations"), join(here, "..", "..", "db", "migrations")];
  const found = candidates.find((c) => existsSync(join(c, "meta", "_journal.json")));
  if (found) return found;
  throw new Error(`db/migrations not found next to ${here}`);
}

/** Migrations committed with this build. */
export function committedMigrations(): number {
  const journal = JSON.parse(readFileSync(join(migrationsFolder(), "meta", "_journal.json"), "utf8")) as { entries: unknown[] };
  return journal.entries.length;
}

/** Migrations applied to the database; throws when it cannot be read. */
export function appliedMigrations(db: Db): number {
  return db.get<{ n: number }>(sql`SELECT count(*) AS n FROM __drizzle_migrations`).n;
}
