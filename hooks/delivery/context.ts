/**
 * What a delivery works with: the store, the rules, the targets, the resource reader and the group
 * commit. Deliveries get this and return an Outcome (outcome.ts); they never reach the scheduler
 * that runs them.
 *
 * No query object is kept here: the store's getters give the transaction's inside one and the
 * read-only connection's outside (db/store.ts), so each use reaches them through `store` (or the
 * `tx` a transaction hands over) at the time of the call. One kept from outside a transaction
 * would read the last commit inside it, and fail to write.
 */
import type { Logger } from "pino";
import type { Store, StoreQueries } from "../../db/store.js";
import type { ResourceReader } from "../../db/read-resource.js";
import type { SyncStateRow } from "../../db/sync.js";
import type { LdapTarget } from "../ldap/connection.js";
import type { LdapOp } from "../planning/ops.js";
import type { TargetConfig } from "../rules/config.js";
import type { RuleSet } from "./rule-set.js";

export interface Target {
  config: TargetConfig;
  connection: LdapTarget;
}

export interface DeliveryContext {
  store: Store;
  rules: RuleSet;
  targets: ReadonlyMap<string, Target>;
  /**
   * `members: false` leaves a Group's members out (a 100,000-member group is never loaded for
   * nothing: membership is delivered from deltas).
   */
  read: ResourceReader;
  /** AES-256-GCM key that seals SCIM passwords until delivered. */
  secretKey: Buffer;
  logger: Logger;
  now(): Date;
  /**
   * Writes that must be durable before the delivery goes on (a DN claim, before the entry is
   * written): committed with the turn's other writes (db/group-commit.ts). `write` is given the
   * transaction's queries and awaits nothing but them.
   */
  commit<T>(write: (tx: StoreQueries) => Promise<T> | T): Promise<T>;
  /** Audit: each LDAP operation run (all, or those before the failing one and the failing one). */
  reportLdapWrites(row: SyncStateRow, ops: LdapOp[], error?: unknown): void;
}
