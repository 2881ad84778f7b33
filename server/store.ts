/**
 * The store the configuration names: PostgreSQL when `storage.url` is set (several replicas share
 * it), else the SQLite file (the default, one process). The PostgreSQL engine is loaded only when
 * used, so a SQLite deployment never loads `pg`.
 */
import { openStore } from "../db/open.js";
import type { Store } from "../db/store.js";
import type { Config } from "./config/schema.js";

export async function openConfiguredStore(config: Config): Promise<Store> {
  const { url, pool } = config.storage;
  if (url === undefined) return openStore(config.storage.file);
  const { openPostgresStore } = await import("../db/pg/open.js");
  return openPostgresStore({ url, pool });
}

/** The database as logs and messages name it: the SQLite file, or the PostgreSQL URL without its password. */
export function databaseName(config: Config): string {
  const { url, file } = config.storage;
  if (url === undefined) return file;
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "postgres://(unparsable URL)";
  }
}
