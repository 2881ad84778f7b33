/**
 * The SQLite engine behind the Store interface (db/store.ts): the query objects of each connection,
 * transactions taken one at a time on the writing connection, and the ambient transaction that
 * points the store's getters at it.
 *
 * better-sqlite3 runs every statement synchronously, so a transaction is a BEGIN IMMEDIATE, the
 * awaited body, then COMMIT, with the body's statements run one after the other. Between two of
 * them other tasks run (each `await` yields), so transactions queue for the connection: only one
 * is open at a time, and nothing outside a transaction touches the writing connection.
 */
import { AmbientQueries } from "./ambient-queries.js";
import { AsyncLocalStorage } from "node:async_hooks";
import type Database from "better-sqlite3";
import { AuditStore } from "./audit.js";
import { sqliteFilterDialect } from "./filter-dialect-sqlite.js";
import { MemberRepairs } from "./member-repairs.js";
import { MemberSyncQueries } from "./member-sync.js";
import { MetricsQueries } from "./metrics-queries.js";
import type { Db } from "./sqlite-db.js";
import { RepairRequests } from "./repair-requests.js";
import { ResourceScan } from "./resource-scan.js";
import { ResourceQueries } from "./resources.js";
import { appliedMigrations, committedMigrations } from "./schema-version.js";
import { probeWritable, storageHealthOf, type StorageHealth } from "./storage-faults.js";
import type { Singleton, Store, StoreQueries } from "./store.js";
import { SyncStatusStore } from "./sync-status.js";
import { SyncQueries } from "./sync.js";
import { Tombstones } from "./tombstones.js";
import { TokenStore } from "./tokens.js";

/**
 * The SQLite engine. Two connections to one file: the writing one, used only inside transactions
 * (taken one at a time, in order), and a read-only one for everything else. In WAL mode a reader
 * sees the last commit (https://www.sqlite.org/wal.html, "Concurrency"), so a read made while a
 * transaction is open between two of its statements never sees that transaction's uncommitted
 * rows, and a write attempted outside a transaction fails at once instead of landing inside
 * someone else's. An in-memory database has one connection only (a second would be another
 * database), so there a read between a transaction's statements can see its uncommitted rows.
 */
export interface SqliteStore extends Store {
  /** The writing connection (storage probes, the serve lock, tests). */
  readonly sqlite: Database.Database;
  /** drizzle on the writing connection: use it only inside `transaction`. */
  readonly db: Db;
}

/** Every query object, on one connection; built once per connection (they hold prepared statements). */
function queriesOn(db: Db, tx: Pick<Store, "transaction">): StoreQueries {
  return {
    resources: new ResourceQueries(db),
    scan: new ResourceScan(db),
    sync: new SyncQueries(db),
    memberSync: new MemberSyncQueries(db),
    memberRepairs: new MemberRepairs(db),
    repairs: new RepairRequests(db, tx),
    syncStatus: new SyncStatusStore(db),
    tombstones: new Tombstones(db),
    tokens: new TokenStore(db, tx),
    audit: new AuditStore(db, tx),
    metrics: new MetricsQueries(db),
  };
}

/** The open transaction of the current async context; `open` turns false at its end, so work it started and outlives it (a timer, a wake) runs outside it. */
interface Ambient {
  open: boolean;
  depth: number;
}

export class SqliteEngine extends AmbientQueries implements SqliteStore {
  readonly engine = "sqlite" as const;
  readonly filters = sqliteFilterDialect;
  readonly health: StorageHealth;
  private readonly ambient = new AsyncLocalStorage<Ambient>();
  private readonly writing: StoreQueries;
  private readonly reading: StoreQueries;
  /** Resolves when the transaction before the next one has ended. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly sqlite: Database.Database,
    readonly db: Db,
    private readonly reader: { sqlite: Database.Database; db: Db },
  ) {
    super();
    this.health = storageHealthOf(sqlite);
    this.writing = queriesOn(db, this);
    this.reading = reader.sqlite === sqlite ? this.writing : queriesOn(reader.db, this);
  }

  protected get current(): StoreQueries {
    return this.ambient.getStore()?.open ? this.writing : this.reading;
  }

  async transaction<T>(fn: (tx: StoreQueries) => Promise<T> | T): Promise<T> {
    const outer = this.ambient.getStore();
    if (outer?.open) return this.savepoint(outer, fn);
    return this.exclusive(() => {
      const ambient: Ambient = { open: true, depth: 0 };
      return this.ambient
        .run(ambient, async () => {
          // IMMEDIATE: the write lock is taken before the first read. A deferred transaction that
          // reads and then writes cannot wait for the lock: its upgrade fails at once with
          // SQLITE_BUSY when another connection wrote meanwhile
          // (https://www.sqlite.org/lang_transaction.html, "Read transactions").
          this.sqlite.exec("BEGIN IMMEDIATE");
          try {
            const result = await fn(this.writing);
            this.sqlite.exec("COMMIT");
            return result;
          } catch (e) {
            // A failed COMMIT or a statement error may already have ended the transaction.
            if (this.sqlite.inTransaction) this.sqlite.exec("ROLLBACK");
            throw e;
          }
        })
        .finally(() => (ambient.open = false));
    });
  }

  /** Runs `fn` once every transaction queued before it has ended, and before any queued after it starts. */
  private async exclusive<T>(fn: () => Promise<T> | T): Promise<T> {
    const previous = this.queue;
    let release!: () => void;
    this.queue = new Promise<void>((r) => (release = r));
    await previous;
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private async savepoint<T>(ambient: Ambient, fn: (tx: StoreQueries) => Promise<T> | T): Promise<T> {
    const name = `sp${++ambient.depth}`;
    this.sqlite.exec(`SAVEPOINT ${name}`);
    try {
      const result = await fn(this.writing);
      this.sqlite.exec(`RELEASE ${name}`);
      return result;
    } catch (e) {
      if (this.sqlite.inTransaction) this.sqlite.exec(`ROLLBACK TO ${name}; RELEASE ${name}`);
      throw e;
    } finally {
      ambient.depth--;
    }
  }

  /** One serving process per database file (server/serve-lock.ts): whatever it asks for is its own. */
  async singleton(): Promise<Singleton> {
    let released!: () => void;
    const lost = new Promise<void>((resolve) => (released = resolve));
    return { lost, release: async () => released() };
  }

  /** One serving process per file: it tells its own worker of its writes (db/store.ts). */
  watchChanges(): () => void {
    return () => undefined;
  }

  isOpen(): boolean {
    return this.sqlite.open;
  }

  async probeWritable(): Promise<boolean> {
    // Not inside transaction(): the probe's own commit is what meets a full disk.
    return this.exclusive(() => probeWritable(this.sqlite));
  }

  async migrations(): Promise<{ applied: number; committed: number }> {
    return { applied: appliedMigrations(this.db), committed: committedMigrations() };
  }

  async close(): Promise<void> {
    // Transactions already queued end first: closing under one would lose its commit.
    await this.exclusive(() => {
      if (this.reader.sqlite !== this.sqlite) this.reader.sqlite.close();
      this.sqlite.close();
    });
  }
}
