/**
 * Telling "another connection holds the write lock" apart from real failures. SQLite reports it
 * as SQLITE_BUSY (another connection, https://www.sqlite.org/rescode.html#busy) or SQLITE_LOCKED
 * (a conflict inside the same shared cache, https://www.sqlite.org/rescode.html#locked), with
 * extended codes such as SQLITE_BUSY_SNAPSHOT; better-sqlite3 puts the name in SqliteError.code.
 * It reaches callers after busy_timeout ran out (db/open.ts), so the caller can only try later.
 */
import Database from "better-sqlite3";

const BUSY_CODES = /^SQLITE_(BUSY|LOCKED)(_|$)/;

/** Whether `e` (or an error it wraps as `cause`, as drizzle's DrizzleQueryError does) is a busy or locked database. */
export function isDatabaseBusy(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur instanceof Error && depth < 5; cur = cur.cause, depth++) {
    if (cur instanceof Database.SqliteError && BUSY_CODES.test(cur.code)) return true;
  }
  return false;
}
