/**
 * The SCIM answer when the database cannot take a write now: busy or unreachable (db/busy.ts:
 * SQLite busy past busy_timeout; PostgreSQL's lock timeout, deadlock or lost connection), or a
 * storage fault (a full disk, a read-only file or mount, an I/O error; db/storage-faults.ts).
 * Either is 503 Service Unavailable with Retry-After (RFC 9110 §15.6.4 and §10.2.3) and a SCIM
 * Error body (RFC 7644 §3.12), never a 500 and never a crash. Writes take the write lock up front
 * (BEGIN IMMEDIATE) and SQLite rolls back a statement that could not be written, so the failed
 * write changed nothing and the client may send it again as it is.
 */
import { isDatabaseBusy } from "../../db/busy.js";
import { storageFaultCode } from "../../db/storage-faults.js";
import { ScimError } from "../../schemas/errors.js";

/** What Retry-After says: the waits inside scimbridge are short transactions, not minutes. */
export const BUSY_RETRY_AFTER_SECONDS = 2;
/** A full or read-only disk needs an operator; asking clients back every 2 s only adds load. */
export const STORAGE_RETRY_AFTER_SECONDS = 30;

export class DatabaseUnavailableError extends ScimError {
  constructor(
    detail: string,
    readonly retryAfterSeconds: number,
  ) {
    super(503, undefined, detail);
  }
}

/** `e` as the SCIM 503 when it is a busy/locked database or a storage fault, else undefined. */
export function databaseBusyError(e: unknown): DatabaseUnavailableError | undefined {
  if (e instanceof DatabaseUnavailableError) return e;
  if (isDatabaseBusy(e)) {
    return new DatabaseUnavailableError(`the database is busy (another writer, a lock wait) or out of reach; nothing was changed, retry after ${BUSY_RETRY_AFTER_SECONDS} seconds`, BUSY_RETRY_AFTER_SECONDS);
  }
  // The operator's words (with SQLite's code) go to the log and /readyz; the client learns only
  // that nothing was stored and when to come back.
  if (storageFaultCode(e) === undefined) return undefined;
  return new DatabaseUnavailableError(
    `the service cannot store changes right now (its database storage is full or read-only); nothing was changed, retry after ${STORAGE_RETRY_AFTER_SECONDS} seconds`,
    STORAGE_RETRY_AFTER_SECONDS,
  );
}
