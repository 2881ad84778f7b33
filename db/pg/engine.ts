/**
 * The PostgreSQL engine behind the Store interface (db/store.ts), with the SQLite engine's
 * transaction contract (db/sqlite-engine.ts): `transaction(fn)` runs `fn` on one connection
 * between BEGIN and COMMIT (ROLLBACK when it throws), and while it runs the store's getters, in
 * that async context, return query objects bound to that connection; a nested `transaction` is a
 * SAVEPOINT. Outside a transaction the getters' query objects run each statement on whichever
 * pooled connection is free, in autocommit, and see committed rows only.
 *
 * Unlike SQLite's, transactions here run concurrently, each on its own connection, under READ
 * COMMITTED (https://www.postgresql.org/docs/15/transaction-iso.html#XACT-READ-COMMITTED): a
 * read-check-write that must hold against another replica takes a row lock (SELECT … FOR UPDATE).
 * Lock waits and statements are bounded per session (db/pg/open.ts), so a stuck lock becomes an
 * error the caller can retry rather than a request that hangs.
 */
import { AmbientQueries } from "../ambient-queries.js";
import { AsyncLocalStorage } from "node:async_hooks";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { drizzle } from "drizzle-orm/node-postgres";
import type pg from "pg";
import { pgFilterDialect } from "../filter-dialect-pg.js";
import { pgMigrationsFolder } from "../migrate-pg.js";
import * as schema from "../schema-pg.js";
import { StorageHealth } from "../storage-faults.js";
import type { Singleton, Store, StoreQueries } from "../store.js";
import { PgAuditStore } from "./audit.js";
import { PgMemberRepairs } from "./member-repairs.js";
import { PgMemberSyncQueries } from "./member-sync.js";
import { PgMetricsQueries } from "./metrics.js";
import { PgRepairRequests } from "./repair-requests.js";
import { PgResourceScan } from "./resource-scan.js";
import { PgResourceQueries } from "./resources.js";
import { listenForChanges } from "./change-listener.js";
import { trySingleton } from "./singleton.js";
import { PgSyncStatusStore } from "./sync-status.js";
import { PgSyncQueries } from "./sync.js";
import { PgTokenStore } from "./tokens.js";
import { PgTombstones } from "./tombstones.js";

/** Every query object on one connection (the pool, or a transaction's client). */
function queriesOn(client: pg.Pool | pg.PoolClient, store: Pick<Store, "transaction">): StoreQueries {
  const db = drizzle({ client, schema });
  return {
    resources: new PgResourceQueries(db, client),
    scan: new PgResourceScan(db),
    sync: new PgSyncQueries(db),
    memberSync: new PgMemberSyncQueries(db),
    memberRepairs: new PgMemberRepairs(db),
    repairs: new PgRepairRequests(db, store),
    syncStatus: new PgSyncStatusStore(db),
    tombstones: new PgTombstones(db),
    tokens: new PgTokenStore(db, store),
    audit: new PgAuditStore(db, store),
    metrics: new PgMetricsQueries(db),
  };
}

/** The open transaction of the current async context; `open` turns false at its end, so work it started and outlives it runs outside it. */
interface Ambient {
  open: boolean;
  depth: number;
  client: pg.PoolClient;
  queries: StoreQueries;
}

export class PostgresEngine extends AmbientQueries implements Store {
  readonly engine = "postgres" as const;
  readonly filters = pgFilterDialect;
  readonly health = new StorageHealth();
  private readonly ambient = new AsyncLocalStorage<Ambient>();
  private readonly pooled: StoreQueries;
  /** Query objects per pooled client, built on its first transaction: the pool hands the same clients out again. */
  private readonly perClient = new WeakMap<pg.PoolClient, StoreQueries>();
  private closing: Promise<void> | undefined;
  /** Transactions under way: close() lets them end first. */
  private readonly running = new Set<Promise<unknown>>();

  constructor(readonly pool: pg.Pool) {
    super();
    this.pooled = queriesOn(pool, this);
  }

  protected get current(): StoreQueries {
    const a = this.ambient.getStore();
    return a?.open ? a.queries : this.pooled;
  }

  async transaction<T>(fn: (tx: StoreQueries) => Promise<T> | T): Promise<T> {
    const outer = this.ambient.getStore();
    if (outer?.open) return this.savepoint(outer, fn);
    if (this.closing) throw new Error("the PostgreSQL store is closed");
    const run = this.top(fn);
    this.running.add(run);
    try {
      return await run;
    } finally {
      this.running.delete(run);
    }
  }

  private async top<T>(fn: (tx: StoreQueries) => Promise<T> | T): Promise<T> {
    const client = await this.pool.connect();
    let queries = this.perClient.get(client);
    if (!queries) this.perClient.set(client, (queries = queriesOn(client, this)));
    const ambient: Ambient = { open: true, depth: 0, client, queries };
    // Set when the connection cannot be trusted any more: released with an error, the pool
    // destroys it instead of handing a broken or still-in-a-transaction session to the next caller.
    let broken: Error | undefined;
    // A checked-out client that loses its connection (the server restarted, the session was
    // terminated) emits "error"; the pool listens only while the client is idle, and an "error"
    // event nobody listens to ends the process (https://node-postgres.com/apis/pool, "error").
    // The statement under way fails as well, so the transaction rejects with that.
    const lost = (e: Error) => (broken = e);
    client.on("error", lost);
    try {
      return await this.ambient.run(ambient, async () => {
        try {
          await client.query("BEGIN ISOLATION LEVEL READ COMMITTED");
        } catch (e) {
          broken = e as Error;
          throw e;
        }
        try {
          const result = await fn(ambient.queries);
          // COMMIT of a transaction an error already aborted (a failed statement whose error `fn`
          // caught) answers ROLLBACK, not an error: that must not pass for a commit.
          const done = await client.query("COMMIT");
          if (done.command !== "COMMIT") throw new Error("the transaction was rolled back at COMMIT: a statement inside it failed and its error was caught");
          return result;
        } catch (e) {
          // After a failed COMMIT the transaction is already over; ROLLBACK then only warns.
          await client.query("ROLLBACK").catch((rollback: Error) => (broken = rollback));
          throw e;
        }
      });
    } finally {
      ambient.open = false;
      client.off("error", lost);
      client.release(broken);
    }
  }

  private async savepoint<T>(a: Ambient, fn: (tx: StoreQueries) => Promise<T> | T): Promise<T> {
    const name = `sp${++a.depth}`;
    try {
      await a.client.query(`SAVEPOINT ${name}`);
      try {
        const result = await fn(a.queries);
        await a.client.query(`RELEASE SAVEPOINT ${name}`);
        return result;
      } catch (e) {
        // Undoes the savepoint's statements and clears an error state, so the outer transaction
        // goes on (https://www.postgresql.org/docs/15/sql-rollback-to.html). If this fails too,
        // the outer transaction is aborted and its COMMIT reports it.
        await a.client.query(`ROLLBACK TO SAVEPOINT ${name}; RELEASE SAVEPOINT ${name}`).catch(() => undefined);
        throw e;
      }
    } finally {
      a.depth--;
    }
  }

  /** A session advisory lock on a connection of its own, with the pool's settings (db/pg/singleton.ts). */
  singleton(name: string): Promise<Singleton | undefined> {
    return trySingleton(this.pool.options, name);
  }

  /** LISTEN on a connection of its own, with the pool's settings (db/pg/change-listener.ts). */
  watchChanges(onChange: () => void): () => void {
    return listenForChanges(this.pool.options, onChange);
  }

  isOpen(): boolean {
    return this.closing === undefined;
  }

  /**
   * Whether the database takes a write now, recorded in `health`: rewrites the newest row of
   * drizzle's migrations table with its own values and commits, as SQLite's probe rewrites
   * user_version. That row exists in every migrated database and only the migrator writes the
   * table (inserting, under its advisory lock), so the probe waits on no one's row lock. A
   * read-only server (a standby, default_transaction_read_only) refuses the UPDATE with 25006; a
   * full disk shows as 53100 when a page must be added.
   */
  async probeWritable(): Promise<boolean> {
    try {
      await this.transaction(async () => {
        const client = this.ambient.getStore()!.client;
        await client.query('UPDATE drizzle."__drizzle_migrations" SET hash = hash WHERE id = (SELECT max(id) FROM drizzle."__drizzle_migrations")');
      });
    } catch (e) {
      if (this.health.note(e, "probe")) return false;
      throw e;
    }
    this.health.ok();
    return true;
  }

  /** Applied: drizzle's bookkeeping table (drizzle.__drizzle_migrations); committed: db/migrations-pg's journal. */
  async migrations(): Promise<{ applied: number; committed: number }> {
    const applied = await this.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM drizzle."__drizzle_migrations"');
    const journal = JSON.parse(readFileSync(join(pgMigrationsFolder(), "meta", "_journal.json"), "utf8")) as { entries: unknown[] };
    return { applied: applied.rows[0]!.n, committed: journal.entries.length };
  }

  /** Refuses new transactions, lets those under way end (closing under one would lose its commit), then ends the pool. */
  async close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled([...this.running]);
      await this.pool.end();
    })();
    return this.closing;
  }
}
