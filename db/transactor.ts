/**
 * What a query object that needs a transaction of its own is given: something that runs a function
 * in a write transaction and hands it the transaction's query objects (Store.transaction,
 * db/store.ts). Kept apart from db/store.ts, which names every query object, so that a query
 * module can ask for a transaction without importing the whole store.
 */
/**
 * The public surface of a query class, as an interface another engine implements: the SQLite
 * classes define it (every method async), and the PostgreSQL ones are checked against it.
 */
export type Surface<C> = { [K in keyof C]: C[K] };

export interface Transactor<Q> {
  transaction<T>(fn: (tx: Q) => Promise<T> | T): Promise<T>;
}
