/**
 * The store as the rest of the code sees it: one object per thing it holds (resources, the outbox
 * and sync state, memberships, tombstones, tokens, audit, …), every method async so a network
 * database can implement it, and one `transaction(fn)` entry point.
 *
 * Transactions are ambient: inside `transaction(fn)`, every query object reached through the store
 * (`store.resources`, `store.sync`, …) runs on the transaction's connection, so the code inside
 * reads and writes exactly as it would outside. Outside a transaction the same objects read the
 * last committed state; writes happen only inside a transaction (the SQLite engine enforces it: its
 * reading connection is read-only).
 *
 * Inside a transaction, run statements one after the other (no Promise.all over writes) and never
 * await anything but the store: the transaction holds the database's write lock until it ends.
 */
import type { AuditStore } from "./audit.js";
import type { FilterDialect } from "./filter-dialect.js";
import type { MemberRepairs } from "./member-repairs.js";
import type { MemberSyncQueries } from "./member-sync.js";
import type { MetricsQueries } from "./metrics-queries.js";
import type { RepairRequests } from "./repair-requests.js";
import type { ResourceScan } from "./resource-scan.js";
import type { ResourceQueries } from "./resources.js";
import type { SyncStatusStore } from "./sync-status.js";
import type { SyncQueries } from "./sync.js";
import type { Tombstones } from "./tombstones.js";
import type { StorageHealth } from "./storage-faults.js";
import type { TokenStore } from "./tokens.js";
import type { Surface } from "./transactor.js";

export type { Surface };

export type ResourceStore = Surface<ResourceQueries>;
export type ResourceScanStore = Surface<ResourceScan>;
export type SyncStore = Surface<SyncQueries>;
export type MemberSyncStore = Surface<MemberSyncQueries>;
export type MemberRepairStore = Surface<MemberRepairs>;
export type RepairStore = Surface<RepairRequests>;
export type SyncStatusView = Surface<SyncStatusStore>;
export type TombstoneStore = Surface<Tombstones>;
export type TokenRows = Surface<TokenStore>;
export type AuditRows = Surface<AuditStore>;
export type MetricsView = Surface<MetricsQueries>;

/** Every query object of the store, bound to one connection. */
export interface StoreQueries {
  /** Users, groups, memberships and the outbox rows SCIM writes record. */
  readonly resources: ResourceStore;
  /** Ids of every resource of a kind, page by page (reconcile). */
  readonly scan: ResourceScanStore;
  /** The outbox cursor and per-(resource, rule) delivery state. */
  readonly sync: SyncStore;
  /** Delivery state per (rule, group, member). */
  readonly memberSync: MemberSyncStore;
  /** Membership repairs reconcile makes. */
  readonly memberRepairs: MemberRepairStore;
  /** Resyncs and entry deletes queued by the admin API and reconcile. */
  readonly repairs: RepairStore;
  /** The admin page's view of delivery state. */
  readonly syncStatus: SyncStatusView;
  /** Entries a rule wrote that no resource holds any more. */
  readonly tombstones: TombstoneStore;
  readonly tokens: TokenRows;
  readonly audit: AuditRows;
  /** Gauges for /metrics. */
  readonly metrics: MetricsView;
}

/** A claim on work one process at a time may do. */
export interface Singleton {
  /** Resolves once the claim is gone (released, or lost with the connection that held it). */
  readonly lost: Promise<void>;
  release(): Promise<void>;
}

export interface Store extends StoreQueries {
  /**
   * Runs `fn` in a write transaction, committed when it resolves and rolled back when it throws;
   * `fn` is given the transaction's query objects (the same ones the store's getters return inside
   * it). Inside another transaction it is a savepoint of it: rolled back alone when it throws.
   */
  transaction<T>(fn: (tx: StoreQueries) => Promise<T> | T): Promise<T>;
  readonly engine: "sqlite" | "postgres";
  /** How SCIM filters and sort keys become this engine's SQL (db/filter-sql.ts compiles with it). */
  readonly filters: FilterDialect;
  /** Storage faults (a full or read-only disk) seen by any writer, until a write succeeds again. */
  readonly health: StorageHealth;
  /** Whether the database takes a write now (recorded in `health`); /readyz asks while a fault lasts. */
  probeWritable(): Promise<boolean>;
  /**
   * Claims work only one process may do at a time (`name`: "delivery", "reconcile", …); undefined
   * when another process holds it. SQLite has one serving process (the serve lock), so it always
   * grants; PostgreSQL takes an advisory lock that ends with the holder's connection.
   */
  singleton(name: string): Promise<Singleton | undefined>;
  /**
   * Calls `onChange` when another process commits outbox rows, until the returned function is
   * called. SQLite has one serving process, which tells its worker of its own writes, so it never
   * calls; PostgreSQL listens to the outbox's notifications. Polling stays the safety net.
   */
  watchChanges(onChange: () => void): () => void;
  /** Whether the store is still open (it is closed at shutdown). */
  isOpen(): boolean;
  /** How many migrations the database has applied, and how many this build ships. */
  migrations(): Promise<{ applied: number; committed: number }>;
  close(): Promise<void>;
}
