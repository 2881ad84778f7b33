/**
 * db/migrate-pg.ts on a real PostgreSQL: replicas starting together against one fresh database
 * each migrate it, and the advisory lock makes that one application of each migration (and of
 * scim_fold()), with no replica failing; the lock is released afterwards.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { is } from "drizzle-orm";
import { PgTable } from "drizzle-orm/pg-core";
import { Pool } from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { MIGRATIONS_LOCK_KEY, migratePostgres, pgMigrationsFolder } from "../../db/migrate-pg.js";
import * as schema from "../../db/schema-pg.js";
import { fold } from "../../schemas/fold.js";
import { usePostgres } from "../harness/postgres.js";

const pg = usePostgres();
const pools: Pool[] = [];
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
});

function replicaPool(url: string): Pool {
  const pool = new Pool({ connectionString: url, max: 2 });
  pools.push(pool);
  return pool;
}

const journal = JSON.parse(readFileSync(join(pgMigrationsFolder(), "meta", "_journal.json"), "utf8")) as { entries: { when: number }[] };

describe("migratePostgres", () => {
  it("applies each migration once when replicas start together on a fresh database, and again is a no-op", async () => {
    const url = await pg.server.createDatabase();
    const replicas = Array.from({ length: 4 }, () => replicaPool(url));
    const results = await Promise.allSettled(replicas.map((p) => migratePostgres(p)));
    expect(results.map((r) => (r.status === "rejected" ? String(r.reason) : "ok"))).toEqual(["ok", "ok", "ok", "ok"]);

    const db = replicas[0]!;
    const applied = await db.query<{ created_at: string }>('SELECT created_at FROM drizzle."__drizzle_migrations" ORDER BY id');
    expect(applied.rows.map((r) => Number(r.created_at))).toEqual(journal.entries.map((e) => e.when));
    const tables = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'");
    expect(tables.rows[0]!.n).toBe(Object.values(schema).filter((t) => is(t, PgTable)).length);

    // scim_fold() (db/fold-pg.ts) was created too, inside the locked section (four replicas
    // replacing one function at once could fail with "tuple concurrently updated" otherwise).
    const folded = await db.query<{ f: string }>("SELECT scim_fold($1) AS f", ["ÅNGSTRÖM İ"]);
    expect(folded.rows[0]!.f).toBe(fold("ÅNGSTRÖM İ"));

    // No replica still holds the lock: a later start is not blocked by this one.
    const held = await db.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted");
    expect(held.rowCount).toBe(0);
    await migratePostgres(replicaPool(url));
    expect((await db.query('SELECT count(*)::int AS n FROM drizzle."__drizzle_migrations"')).rows[0]).toEqual({ n: journal.entries.length });
  });

  it("waits for a replica that holds the migrations lock, longer than the pool's lock_timeout, which it then restores", async () => {
    const url = await pg.server.createDatabase();
    const holder = await replicaPool(url).connect();
    await holder.query("SELECT pg_advisory_lock($1::bigint)", [MIGRATIONS_LOCK_KEY]);
    let done = false;
    // The store's pools bound lock waits per session (db/pg/open.ts); the migrations wait must not be.
    const bounded = new Pool({ connectionString: url, max: 1, lock_timeout: 200 });
    pools.push(bounded);
    const migrating = migratePostgres(bounded).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 500));
    expect(done).toBe(false);
    await holder.query("SELECT pg_advisory_unlock($1::bigint)", [MIGRATIONS_LOCK_KEY]);
    holder.release();
    await migrating;
    expect(done).toBe(true);
    expect((await bounded.query<{ lock_timeout: string }>("SHOW lock_timeout")).rows[0]!.lock_timeout).toBe("200ms");
  });
});
