/**
 * The store's getters, the same on every engine: each returns the query object of the transaction
 * open in the current async context, or the one that reads committed rows outside a transaction
 * (db/store.ts). An engine says which set is current; the getters follow.
 */
import type { StoreQueries } from "./store.js";

export abstract class AmbientQueries implements StoreQueries {
  /** The transaction's query objects inside one, else those reading committed rows. */
  protected abstract get current(): StoreQueries;

  get resources() { return this.current.resources; }
  get scan() { return this.current.scan; }
  get sync() { return this.current.sync; }
  get memberSync() { return this.current.memberSync; }
  get memberRepairs() { return this.current.memberRepairs; }
  get repairs() { return this.current.repairs; }
  get syncStatus() { return this.current.syncStatus; }
  get tombstones() { return this.current.tombstones; }
  get tokens() { return this.current.tokens; }
  get audit() { return this.current.audit; }
  get metrics() { return this.current.metrics; }
}
