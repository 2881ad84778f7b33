/**
 * One `scimbridge serve` per database file. The delivery worker's "one delivery per (resource,
 * rule) at a time" lives in its process's memory, so two servers on one file would deliver the
 * same change twice and race each other's deletes; the second one must refuse to start.
 *
 * The lock is SQLite's own file lock on a companion file (`<database>.serve-lock`), held for the
 * life of the process: a transaction begun with BEGIN IMMEDIATE and never committed holds a
 * RESERVED lock, which no other connection can take (https://www.sqlite.org/lockingv3.html).
 * SQLite takes it as a POSIX advisory lock (fcntl), which the kernel drops when the process ends
 * however it ends, kill -9 included: it cannot go stale, and there is no pid to check for
 * liveness or reuse (a pid file could name a dead process whose pid came back, or a process on
 * another host). A RESERVED lock still lets others read, so the holder's pid, host and start time
 * are committed in the same file for the refusal message. It is a separate file because the
 * database itself must stay writable by the CLI commands beside a running server.
 *
 * POSIX drops every fcntl lock a process holds on a file when the process closes any descriptor
 * of it: nothing but this module may open the lock file (SQLite keeps its own descriptors open).
 * Like SQLite itself, this relies on a filesystem with working POSIX locks (not every NFS does,
 * https://www.sqlite.org/howtocorrupt.html#_filesystems_with_broken_or_missing_lock_implementations).
 */
import { hostname } from "node:os";
import { dirname, resolve } from "node:path";
import Database from "better-sqlite3";
import { isDatabaseBusy } from "../db/busy.js";
import { ensurePrivateDir, restrictDatabaseFiles } from "../db/file-modes.js";

/** Who holds the lock, as it recorded itself. */
export interface ServeLockHolder {
  pid: number;
  host: string;
  started: string;
}

/** Another process serves this database; `holder` is undefined when it has not recorded itself yet. */
export class ServeLockHeldError extends Error {
  constructor(
    readonly database: string,
    readonly holder: ServeLockHolder | undefined,
  ) {
    const who = holder ? `pid ${holder.pid} on host ${holder.host}, started ${holder.started}` : "a process that is still starting";
    super(
      `another scimbridge serve is already running on the database ${resolve(database)} (${who}); ` +
        "one server per database file: stop it first, or give this one its own storage.file",
    );
    this.name = "ServeLockHeldError";
  }
}

export interface ServeLock {
  /** The companion file holding the lock. */
  readonly file: string;
  release(): void;
}

export function serveLockFile(database: string): string {
  return `${database}.serve-lock`;
}

/** Waits for the holder's commit of its own row (a few milliseconds), never for the lock itself. */
const READ_BUSY_MS = 2000;

/**
 * Takes the lock for `database` or throws ServeLockHeldError. An in-memory database is never
 * shared, so it needs no lock.
 */
export function acquireServeLock(database: string): ServeLock {
  if (database === ":memory:") return { file: "", release: () => undefined };
  const file = serveLockFile(database);
  ensurePrivateDir(dirname(file));
  restrictDatabaseFiles(file); // it names the host and pid holding the database: 0600 like the rest
  const db = new Database(file);
  try {
    // Rollback journal: a RESERVED lock leaves readers in. In WAL mode the lock would sit in the
    // -shm file instead, with two more companion files for nothing.
    db.pragma("journal_mode = DELETE");
    take(db, database);
    db.exec("CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL, host TEXT NOT NULL, started TEXT NOT NULL)");
    db.exec("DELETE FROM holder");
    db.prepare("INSERT INTO holder (pid, host, started) VALUES (?, ?, ?)").run(process.pid, hostname(), new Date().toISOString());
    // Committing (so others can read the row) lets the lock go for an instant. A process that
    // takes it then wins, and this one refuses to start: at least one of any set of contenders
    // always ends up holding the lock.
    db.exec("COMMIT");
    take(db, database);
  } catch (e) {
    db.close();
    throw e;
  }
  return {
    file,
    release: () => {
      // Closing rolls back the empty transaction and drops the lock; the file stays for the next start.
      if (db.open) db.close();
    },
  };
}

/** BEGIN IMMEDIATE without waiting: the RESERVED lock now, or ServeLockHeldError naming its holder. */
function take(db: Database.Database, database: string): void {
  db.pragma("busy_timeout = 0");
  try {
    db.exec("BEGIN IMMEDIATE");
  } catch (e) {
    if (!isDatabaseBusy(e)) throw e;
    throw new ServeLockHeldError(database, readHolder(db));
  } finally {
    db.pragma(`busy_timeout = ${READ_BUSY_MS}`);
  }
}

function readHolder(db: Database.Database): ServeLockHolder | undefined {
  try {
    return db.prepare("SELECT pid, host, started FROM holder").get() as ServeLockHolder | undefined;
  } catch {
    // The first holder has not created the table yet, or is committing its row: holder unknown.
    return undefined;
  }
}
