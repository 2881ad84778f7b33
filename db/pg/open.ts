/**
 * Opens the PostgreSQL store: a connection pool with per-session time limits, the database
 * checked (UTF8, "C" collation), the committed migrations and scim_fold() applied under the
 * migrations advisory lock (db/migrate-pg.ts), and the engine (db/pg/engine.ts) on the pool.
 */
import pg from "pg";
import { migratePostgres } from "../migrate-pg.js";
import { PostgresEngine } from "./engine.js";

export { PostgresEngine } from "./engine.js";

export interface PostgresPoolOptions {
  /** Connections at most (default 10). */
  max?: number;
  /** How long a statement waits for a lock before failing with 55P03 (default 2000 ms). */
  lockTimeoutMs?: number;
  /** How long one statement may run before it is cancelled with 57014 (default 30000 ms). */
  statementTimeoutMs?: number;
  /** A session idle inside a transaction this long is ended by the server, releasing its locks (default 60000 ms). */
  idleInTransactionTimeoutMs?: number;
  /** How long to wait for a connection, new or from the pool (default 10000 ms). */
  connectionTimeoutMs?: number;
}

export interface PostgresStoreOptions {
  /** postgres:// URL, credentials included. */
  url: string;
  pool?: PostgresPoolOptions;
}

/**
 * Opens, checks and migrates the database at `url`; on any failure the pool is ended again.
 *
 * The time limits are startup parameters of every session the pool opens
 * (https://www.postgresql.org/docs/15/runtime-config-client.html): lock_timeout bounds a lock
 * wait (two writers of one group queue on its row, and a wait longer than that is better
 * answered 503 than left hanging); statement_timeout bounds a runaway query;
 * idle_in_transaction_session_timeout frees the locks of a transaction whose process stopped
 * driving it.
 */
export async function openPostgresStore(o: PostgresStoreOptions): Promise<PostgresEngine> {
  const p = o.pool ?? {};
  const pool = new pg.Pool({
    connectionString: o.url,
    max: p.max ?? 10,
    application_name: "scimbridge",
    lock_timeout: p.lockTimeoutMs ?? 2000,
    statement_timeout: p.statementTimeoutMs ?? 30_000,
    idle_in_transaction_session_timeout: p.idleInTransactionTimeoutMs ?? 60_000,
    connectionTimeoutMillis: p.connectionTimeoutMs ?? 10_000,
  });
  // An idle pooled connection that the server ends (a restart, a failover) emits "error" on the
  // pool; unhandled, that event would end the process. The pool drops the connection by itself,
  // and the next query opens a new one.
  pool.on("error", () => undefined);
  try {
    await checkDatabase(pool);
    await migratePostgres(pool);
  } catch (e) {
    await pool.end();
    throw e;
  }
  return new PostgresEngine(pool);
}

/**
 * Refuses a database scimbridge would answer wrongly in:
 * - not UTF8: normalize() in scim_fold() needs it, and SCIM strings are Unicode;
 * - a default collation other than byte order. SQLite compares text byte-wise (BINARY), and the
 *   store relies on it: sort keys and keyset cursors over the *_key columns, ISO-8601 times
 *   compared as strings, DN keys. A collation such as en_US orders "a" < "B" < "b" and ignores
 *   punctuation at first, so pages would come in another order than on SQLite and range tests
 *   would disagree. The alternative, COLLATE "C" on each text column, would have to be repeated
 *   on every column any query compares (both engineers' tables, and every future column), needs
 *   a custom column type drizzle-kit diffs as an opaque string, and a column without it would
 *   silently order by the database's collation; one check here covers every column and fails
 *   loudly with the fix. Accepted: the libc "C"/"POSIX" collation and PostgreSQL 17's builtin
 *   provider, whose locales sort by code point (https://www.postgresql.org/docs/17/locale.html).
 */
async function checkDatabase(pool: pg.Pool): Promise<void> {
  // datlocprovider exists from PostgreSQL 15 on; read through to_jsonb so older servers answer NULL (libc).
  const { rows } = await pool.query<{ name: string; encoding: string; collate: string; provider: string | null }>(
    `SELECT datname AS name, pg_encoding_to_char(encoding) AS encoding, datcollate AS collate, to_jsonb(d) ->> 'datlocprovider' AS provider
       FROM pg_database d WHERE datname = current_database()`,
  );
  const db = rows[0]!;
  const fix = `create it with CREATE DATABASE "${db.name}" TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'`;
  if (db.encoding !== "UTF8") throw new Error(`PostgreSQL database "${db.name}" has encoding ${db.encoding}; scimbridge needs UTF8: ${fix}`);
  const provider = db.provider ?? "c";
  const bytewise = provider === "b" || (provider === "c" && (db.collate === "C" || db.collate === "POSIX"));
  if (!bytewise) {
    const which = provider === "i" ? "an ICU collation" : `collation "${db.collate}"`;
    throw new Error(`PostgreSQL database "${db.name}" uses ${which} by default; scimbridge needs the "C" collation, so text orders byte-wise as it does on SQLite: ${fix}`);
  }
}
