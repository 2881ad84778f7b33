/**
 * Store.transaction (db/open.ts) for store modules built over the drizzle handle alone (their
 * callers hold `store.db`): the same write transaction. Synchronous (better-sqlite3 runs every
 * statement on the calling thread; never await inside one, scimmy-pitfalls.md), begun IMMEDIATE
 * so the write lock is taken up front instead of upgraded from a read, which SQLite refuses with
 * SQLITE_BUSY when another connection wrote meanwhile
 * (https://www.sqlite.org/lang_transaction.html, "Read transactions"). Nested calls become
 * savepoints; store modules' writes called inside `fn` join it.
 */
import type { Store } from "./open.js";

export function writeTransaction<T>(store: Pick<Store, "db">, fn: () => T): T {
  return store.db.transaction(() => fn(), { behavior: "immediate" });
}
