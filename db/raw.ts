/**
 * Plain prepared INSERTs and UPDATEs for drizzle tables on hot write paths. drizzle builds the SQL text of
 * every insert again (measured: about a third of a SCIM POST's store time went to query building);
 * here the text is built once per (table, set of columns) and the statement comes from the
 * connection's prepared-statement cache (db/open.ts). Values are drizzle's input shape (keys as the
 * table's TypeScript names); undefined keys are left to the column defaults.
 */
import type Database from "better-sqlite3";
import { getTableColumns, getTableName, type Table } from "drizzle-orm";

const sqlText = new Map<string, string>();

export function insertRow(sqlite: Database.Database, table: Table, values: Record<string, unknown>): Database.RunResult {
  const columns = getTableColumns(table);
  const keys = Object.keys(values).filter((k) => values[k] !== undefined);
  const name = getTableName(table);
  const cacheKey = `${name}\u0000${keys.join("\u0000")}`;
  let text = sqlText.get(cacheKey);
  if (text === undefined) {
    const names = keys.map((k) => {
      const col = columns[k];
      if (!col) throw new Error(`table ${name} has no column for ${k}`);
      return `"${col.name}"`;
    });
    text = `INSERT INTO "${name}" (${names.join(", ")}) VALUES (${keys.map(() => "?").join(", ")})`;
    sqlText.set(cacheKey, text);
  }
  return sqlite.prepare(text).run(...keys.map((k) => toSqlite(values[k])));
}

/**
 * UPDATE ... SET (the defined keys of `values`) WHERE (each key of `where`) = value. Like
 * drizzle's set(), an undefined value leaves its column as it is.
 */
export function updateRow(
  sqlite: Database.Database,
  table: Table,
  values: Record<string, unknown>,
  where: Record<string, unknown>,
): Database.RunResult {
  const columns = getTableColumns(table);
  const keys = Object.keys(values).filter((k) => values[k] !== undefined);
  const whereKeys = Object.keys(where);
  const name = getTableName(table);
  const cacheKey = `${name}\u0001${keys.join("\u0000")}\u0001${whereKeys.join("\u0000")}`;
  let text = sqlText.get(cacheKey);
  if (text === undefined) {
    const column = (k: string) => {
      const col = columns[k];
      if (!col) throw new Error(`table ${name} has no column for ${k}`);
      return `"${col.name}"`;
    };
    text = `UPDATE "${name}" SET ${keys.map((k) => `${column(k)} = ?`).join(", ")} WHERE ${whereKeys.map((k) => `${column(k)} = ?`).join(" AND ")}`;
    sqlText.set(cacheKey, text);
  }
  return sqlite.prepare(text).run(...keys.map((k) => toSqlite(values[k])), ...whereKeys.map((k) => toSqlite(where[k])));
}

function toSqlite(v: unknown): unknown {
  if (typeof v === "boolean") return v ? 1 : 0;
  return v ?? null;
}
