/**
 * drizzle INSERTs and UPDATEs on the SCIM write path, prepared once per (table, set of columns)
 * and run with placeholders. drizzle builds a query's SQL text again on every call (measured: about
 * a third of a SCIM POST's store time went to query building); a write path writes a few fixed
 * sets of columns, so each is built once. Values are drizzle's input shape (keys as the table's
 * TypeScript names, mapped by each column, e.g. booleans); undefined keys are left out (column
 * defaults on insert, unchanged on update).
 */
import { eq, getTableName, sql } from "drizzle-orm";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Db } from "./sqlite-db.js";

interface Runnable {
  run(values: Record<string, unknown>): { changes: number; lastInsertRowid: number | bigint };
}

/**
 * Placeholders for the keys, but a null value is written as NULL in the statement itself: drizzle
 * maps a placeholder's value through the column's encoder, and a boolean column's encoder turns
 * null into 0 (false), not NULL.
 */
const placeholders = (keys: string[], values: Record<string, unknown>) =>
  Object.fromEntries(keys.map((k) => [k, values[k] === null ? sql`NULL` : sql.placeholder(k)]));
const defined = (values: Record<string, unknown>) => Object.keys(values).filter((k) => values[k] !== undefined);
/** The statement's shape: its columns, and which of them are NULL. */
const shape = (keys: string[], values: Record<string, unknown>) => keys.map((k) => (values[k] === null ? `${k}=null` : k)).join(",");

export class PreparedWrites {
  private readonly statements = new Map<string, Runnable>();

  constructor(private readonly db: Db) {}

  insert(table: SQLiteTable, values: Record<string, unknown>): { lastInsertRowid: number | bigint } {
    const keys = defined(values);
    const signature = `insert ${getTableName(table)} ${shape(keys, values)}`;
    let stmt = this.statements.get(signature);
    if (!stmt) {
      stmt = this.db.insert(table).values(placeholders(keys, values)).prepare() as unknown as Runnable;
      this.statements.set(signature, stmt);
    }
    return stmt.run(values);
  }

  /** UPDATE … SET the defined keys of `values` WHERE `key` = `keyValue`. */
  update(table: SQLiteTable, values: Record<string, unknown>, key: SQLiteColumn, keyValue: unknown): number {
    const keys = defined(values);
    const signature = `update ${getTableName(table)} ${shape(keys, values)} where ${key.name}`;
    let stmt = this.statements.get(signature);
    if (!stmt) {
      stmt = this.db.update(table).set(placeholders(keys, values)).where(eq(key, sql.placeholder("__key"))).prepare() as unknown as Runnable;
      this.statements.set(signature, stmt);
    }
    return stmt.run({ ...values, __key: keyValue }).changes;
  }
}
