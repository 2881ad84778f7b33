/**
 * Telling "the database cannot take this now, try again" apart from real failures, on either engine.
 *
 * SQLite reports another connection holding the write lock as SQLITE_BUSY
 * (https://www.sqlite.org/rescode.html#busy) or SQLITE_LOCKED (a conflict inside the same shared
 * cache, https://www.sqlite.org/rescode.html#locked), with extended codes such as
 * SQLITE_BUSY_SNAPSHOT; better-sqlite3 puts the name in SqliteError.code. It reaches callers after
 * busy_timeout ran out (db/open.ts).
 *
 * PostgreSQL (https://www.postgresql.org/docs/15/errcodes-appendix.html): a lock waited for past
 * lock_timeout (55P03 lock_not_available), a deadlock or serialization failure (40P01, 40001),
 * too many connections (53300), the server shutting down or restarting (57P01 admin_shutdown,
 * 57P02 crash_shutdown, 57P03 cannot_connect_now), and a connection lost or refused (class 08, or
 * node-postgres's own errors when the socket closes or cannot be opened). In each the transaction
 * was rolled back (or never began), so the caller may send the same request again.
 *
 * drizzle wraps a failed query's error in a DrizzleQueryError whose `cause` is the driver's, so
 * the chain of causes is followed.
 */
const SQLITE_BUSY = /^SQLITE_(BUSY|LOCKED)(_|$)/;
const PG_RETRYABLE = new Set(["55P03", "40P01", "40001", "53300", "57P01", "57P02", "57P03"]);
/** Socket errors node-postgres passes on when the server is unreachable or the connection drops. */
const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENOTFOUND", "EAI_AGAIN"]);
/** node-postgres's messages for a connection that ended under a query or could not be had from the pool. */
const PG_CONNECTION_LOST = /^(Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect|Client was closed and is not queryable)/;

function retryable(e: object): boolean {
  const code = (e as { code?: unknown }).code;
  if (typeof code === "string") {
    if (SQLITE_BUSY.test(code) || PG_RETRYABLE.has(code) || NETWORK_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code)) return true;
  }
  return e instanceof Error && PG_CONNECTION_LOST.test(e.message);
}

/** Whether `e` (or an error it wraps as `cause`) says the database cannot take the request now, but may soon. */
export function isDatabaseBusy(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; typeof cur === "object" && cur !== null && depth < 5; cur = (cur as { cause?: unknown }).cause, depth++) {
    if (retryable(cur)) return true;
  }
  return false;
}
