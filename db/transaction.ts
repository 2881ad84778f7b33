/**
 * The store's write transaction for modules handed only the drizzle database: the same as
 * Store.transaction (db/open.ts). Synchronous (better-sqlite3 runs every statement on the calling
 * thread; never await inside one, scimmy-pitfalls.md), begun IMMEDIATE so the write lock is taken
 * up front instead of upgraded from a read, which SQLite refuses with SQLITE_BUSY when another
 * connection wrote meanwhile (https://www.sqlite.org/lang_transaction.html, "Read transactions").
 * Inside another transaction (the SCIM write's, a group commit's) it is a savepoint of it.
 */
import { writeTransactionOn, type Store } from "./open.js";

export function writeTransaction<T>(store: Pick<Store, "db">, fn: () => T): T {
  return writeTransactionOn(store.db.$client, fn);
}
