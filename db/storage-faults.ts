/**
 * Storage faults: the database file cannot be written (SQLITE_FULL, a full disk or quota,
 * https://www.sqlite.org/rescode.html#full; SQLITE_READONLY, a read-only file or mount,
 * https://www.sqlite.org/rescode.html#readonly; SQLITE_IOERR, the OS refused a read or write,
 * https://www.sqlite.org/rescode.html#ioerr; SQLITE_CANTOPEN for a journal or WAL file that cannot
 * be created). Like a busy database (./busy.ts) the caller can only try later: SQLite rolls the
 * failed statement's transaction back, so nothing half-written stays. Reads keep working from
 * the pages already on disk.
 *
 * PostgreSQL's equivalents are SQLSTATEs (https://www.postgresql.org/docs/15/errcodes-appendix.html):
 * 53100 disk_full (a table or index file could not be extended) and 25006
 * read_only_sql_transaction (the server is a standby, or default_transaction_read_only is on).
 * PostgreSQL also ends the failed transaction, so the same "try later" holds.
 *
 * StorageHealth remembers the last such fault per connection until a write succeeds again, so
 * /readyz can say why the service is unready and clear itself when space returns.
 */
import Database from "better-sqlite3";
import pg from "pg";

const FAULT_CODES = /^SQLITE_(FULL|READONLY|IOERR|CANTOPEN)(_|$)/;
const PG_FAULT_CODES = new Set(["53100", "25006"]);

/**
 * The SQLite code or PostgreSQL SQLSTATE when `e` (or an error it wraps as `cause`, as drizzle's
 * DrizzleQueryError does) is a storage fault, else undefined.
 */
export function storageFaultCode(e: unknown): string | undefined {
  for (let cur: unknown = e, depth = 0; cur instanceof Error && depth < 5; cur = cur.cause, depth++) {
    if (cur instanceof Database.SqliteError && FAULT_CODES.test(cur.code)) return cur.code;
    if (cur instanceof pg.DatabaseError && cur.code !== undefined && PG_FAULT_CODES.has(cur.code)) return cur.code;
  }
  return undefined;
}

/** Words for an operator: what the code means and what to do. */
export function describeStorageFault(code: string): string {
  if (code === "53100") return "53100 disk_full: the disk holding PostgreSQL's data is full; free space and writes resume by themselves";
  if (code === "25006") return "25006 read_only_sql_transaction: the PostgreSQL server takes no writes (a standby, or default_transaction_read_only); point the URL at the primary";
  if (code.startsWith("SQLITE_FULL")) return `${code}: the disk (or quota) holding the database is full; free space and writes resume by themselves`;
  if (code.startsWith("SQLITE_READONLY")) return `${code}: the database file or its directory is read-only; make it writable and writes resume by themselves`;
  if (code.startsWith("SQLITE_CANTOPEN")) return `${code}: a journal or WAL file beside the database cannot be created (permissions or space)`;
  return `${code}: the operating system refused a read or write of the database (disk error or full disk)`;
}

export interface StorageFault {
  code: string;
  reason: string;
  since: string;
  /** Where it was seen last: "scim", "audit", "worker", ... */
  where: string;
}

export class StorageHealth {
  private current: StorageFault | undefined;
  private readonly listeners = new Set<(f: StorageFault | undefined) => void>();

  /** Records `e` when it is a storage fault; returns the fault, or undefined for any other error. */
  note(e: unknown, where: string): StorageFault | undefined {
    const code = storageFaultCode(e);
    if (code === undefined) return undefined;
    const first = this.current === undefined;
    this.current = { code, reason: describeStorageFault(code), since: this.current?.since ?? new Date().toISOString(), where };
    if (first) for (const l of this.listeners) l(this.current);
    return this.current;
  }

  /** A write went through: the fault, if any, is over. */
  ok(): void {
    if (this.current === undefined) return;
    this.current = undefined;
    for (const l of this.listeners) l(undefined);
  }

  fault(): StorageFault | undefined {
    return this.current;
  }

  /** Called when a fault starts (with it) and when it ends (with undefined). */
  onChange(l: (f: StorageFault | undefined) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}

const byConnection = new WeakMap<Database.Database, StorageHealth>();

/** The one StorageHealth of a connection: every writer on it reports here, /readyz reads it. */
export function storageHealthOf(sqlite: Database.Database): StorageHealth {
  let h = byConnection.get(sqlite);
  if (h === undefined) byConnection.set(sqlite, (h = new StorageHealth()));
  return h;
}

/**
 * Whether the database takes a write now: rewrites the header's user_version with its own value
 * (a one-page commit, https://www.sqlite.org/pragma.html#pragma_user_version) and records the
 * outcome. /readyz calls it while a fault is current, so readiness comes back with the space.
 */
export function probeWritable(sqlite: Database.Database): boolean {
  const health = storageHealthOf(sqlite);
  try {
    sqlite.transaction(() => {
      const v = sqlite.pragma("user_version", { simple: true }) as number;
      sqlite.pragma(`user_version = ${Math.trunc(v)}`);
    }).immediate();
  } catch (e) {
    if (health.note(e, "probe")) return false;
    throw e;
  }
  health.ok();
  return true;
}
