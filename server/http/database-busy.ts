/**
 * The SCIM answer when SQLite stays busy past busy_timeout (db/open.ts): 503 Service Unavailable
 * with Retry-After (RFC 9110 §15.6.4 and §10.2.3) and a SCIM Error body (RFC 7644 §3.12), never
 * a 500. Writes take the write lock up front (BEGIN IMMEDIATE), so a busy write failed before it
 * changed anything and the client may send it again as it is.
 */
import { isDatabaseBusy } from "../../db/busy.js";
import { ScimError } from "../../schemas/errors.js";

/** What Retry-After says: the waits inside scimbridge are short transactions, not minutes. */
export const BUSY_RETRY_AFTER_SECONDS = 2;

/** `e` as the SCIM 503 when it is a busy or locked database, else undefined. */
export function databaseBusyError(e: unknown): ScimError | undefined {
  if (!isDatabaseBusy(e)) return undefined;
  return new ScimError(503, undefined, `the database is busy with another writer; retry after ${BUSY_RETRY_AFTER_SECONDS} seconds`);
}
