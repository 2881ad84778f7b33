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
 * Like SQLite itself, this relies on a filesystem with working POSIX locks (not every NFS does,
 * https://www.sqlite.org/howtocorrupt.html#_filesystems_with_broken_or_missing_lock_implementations).
 */
import { hostname } from "node:os";
import { resolve } from "node:path";
import { ServeLockFile, type ServeLockHolder } from "../db/serve-lock.js";

export type { ServeLockHolder };

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

/**
 * Takes the lock for `database` or throws ServeLockHeldError. An in-memory database is never
 * shared, so it needs no lock.
 */
export function acquireServeLock(database: string): ServeLock {
  if (database === ":memory:") return { file: "", release: () => undefined };
  const file = serveLockFile(database);
  const lock = ServeLockFile.open(file);
  try {
    take(lock, database);
    // Committing (so others can read the row) lets the lock go for an instant. A process that
    // takes it then wins, and this one refuses to start: at least one of any set of contenders
    // always ends up holding the lock.
    lock.recordHolder({ pid: process.pid, host: hostname(), started: new Date().toISOString() });
    take(lock, database);
  } catch (e) {
    lock.close();
    throw e;
  }
  return { file, release: () => lock.close() };
}

/** The RESERVED lock now, or ServeLockHeldError naming its holder. */
function take(lock: ServeLockFile, database: string): void {
  if (!lock.tryReserve()) throw new ServeLockHeldError(database, lock.holder());
}
