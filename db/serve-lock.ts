/**
 * The serve lock's own small SQLite file (server/serve-lock.ts says why it exists): a RESERVED
 * lock taken with BEGIN IMMEDIATE and held by never committing, and one row naming its holder.
 * SQLite takes that lock as a POSIX advisory lock (fcntl), which the kernel drops when the process
 * ends however it ends (https://www.sqlite.org/lockingv3.html).
 *
 * POSIX drops every fcntl lock a process holds on a file when the process closes any descriptor
 * of it: nothing but this module may open the lock file (SQLite keeps its own descriptors open).
 */
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { sql } from "drizzle-orm";
import { drizzle, type BetterSQLite3Database } from "drizzle-orm/better-sqlite3";
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { isDatabaseBusy } from "./busy.js";
import { ensurePrivateDir, restrictDatabaseFiles } from "./file-modes.js";

/** Who holds the lock, as it recorded itself. */
export interface ServeLockHolder {
  pid: number;
  host: string;
  started: string;
}

/** The lock file's one table (not part of the store's schema: a file of its own, never migrated). */
const holder = sqliteTable("holder", { pid: integer("pid").notNull(), host: text("host").notNull(), started: text("started").notNull() });

/** Waits for the holder's commit of its own row (a few milliseconds), never for the lock itself. */
const READ_BUSY_MS = 2000;

export class ServeLockFile {
  private readonly db: BetterSQLite3Database;

  private constructor(private readonly sqlite: Database.Database) {
    this.db = drizzle(sqlite);
  }

  /** Opens (creating it 0600 if needed) the lock file. */
  static open(file: string): ServeLockFile {
    ensurePrivateDir(dirname(file));
    restrictDatabaseFiles(file); // it names the host and pid holding the database: 0600 like the rest
    const sqlite = new Database(file);
    try {
      // Rollback journal: a RESERVED lock leaves readers in. In WAL mode the lock would sit in the
      // -shm file instead, with two more companion files for nothing.
      sqlite.pragma("journal_mode = DELETE");
    } catch (e) {
      sqlite.close();
      throw e;
    }
    return new ServeLockFile(sqlite);
  }

  /** BEGIN IMMEDIATE without waiting: true when this connection now holds the RESERVED lock. */
  tryReserve(): boolean {
    this.sqlite.pragma("busy_timeout = 0");
    try {
      this.db.run(sql`BEGIN IMMEDIATE`);
      return true;
    } catch (e) {
      if (!isDatabaseBusy(e)) throw e;
      return false;
    } finally {
      this.sqlite.pragma(`busy_timeout = ${READ_BUSY_MS}`);
    }
  }

  /**
   * Records the holder and commits, so that others can read it; the lock is let go for that
   * instant (take it again with tryReserve). Call while holding the lock.
   */
  recordHolder(h: ServeLockHolder): void {
    this.db.run(sql`CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL, host TEXT NOT NULL, started TEXT NOT NULL)`);
    this.db.delete(holder).run();
    this.db.insert(holder).values(h).run();
    this.db.run(sql`COMMIT`);
  }

  /** The recorded holder, or undefined while the first holder has not created the table or is committing its row. */
  holder(): ServeLockHolder | undefined {
    try {
      return this.db.select().from(holder).get();
    } catch {
      return undefined;
    }
  }

  /** Closing rolls back the empty transaction and drops the lock; the file stays for the next start. */
  close(): void {
    if (this.sqlite.open) this.sqlite.close();
  }
}
