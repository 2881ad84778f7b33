/**
 * The storage engine the test helpers (testApp, provisioned) open: SQLite on a temp file by
 * default, PostgreSQL when SCIMBRIDGE_TEST_STORE=postgres (vitest.config.ts sets it for the
 * "postgres" project). On PostgreSQL each store gets a database of its own on the run's server
 * (test/harness/postgres-project.ts), or, run outside that project, on one the test file starts
 * when it first opens a store and stops after it.
 *
 * `TestSql` is plain SQL with `?` parameters on either engine, for the assertions that read (or
 * set up) rows no SCIM response shows: the outbox, sync_state, the audit log.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import type { SqliteStore } from "../../db/open.js";
import type { Store } from "../../db/store.js";
import type { Config } from "../../server/config/schema.js";
import { openConfiguredStore } from "../../server/store.js";
import { inject } from "vitest";
import { postgresOnDemand } from "../harness/postgres.js";
import type { SharedPostgres } from "../harness/postgres-project.js";

export type TestEngine = "sqlite" | "postgres";

export const testEngine: TestEngine = process.env.SCIMBRIDGE_TEST_STORE === "postgres" ? "postgres" : "sqlite";
if (!["postgres", "sqlite", undefined].includes(process.env.SCIMBRIDGE_TEST_STORE)) {
  throw new Error(`SCIMBRIDGE_TEST_STORE must be "sqlite" or "postgres", not ${JSON.stringify(process.env.SCIMBRIDGE_TEST_STORE)}`);
}

/**
 * The run's PostgreSQL when the project started one (test/harness/postgres-project.ts); otherwise
 * this file's own, registered while this module is collected so that its afterAll stops it.
 */
const shared = testEngine === "postgres" ? inject("postgres") : undefined;
const ownServer = testEngine === "postgres" && !shared ? postgresOnDemand() : undefined;

/** Every SQLite file path a test reopened maps to the one database made for it on PostgreSQL (a restart on the same store). */
const databases = new Map<string, Promise<string>>();

/** A secret key for configs on PostgreSQL, where `provisioning.secretKey` is required with `storage.url`. */
export const TEST_SECRET_KEY = Buffer.alloc(32, 7).toString("base64");

/**
 * The `storage` config section for a store at `file`: that file on SQLite; on PostgreSQL a fresh
 * database, the same one each time the same `file` is named. Small pools: a test file opens many stores.
 */
export async function testStorage(file: string): Promise<{ file: string } | { url: string; pool: { max: number } }> {
  if (testEngine === "sqlite") return { file };
  let url = databases.get(file);
  if (!url) databases.set(file, (url = freshDatabase()));
  return { url: await url, pool: { max: 4 } };
}

let migrated: Promise<SharedPostgres> | undefined;

/** The server and its migrated database: the run's, or this file's own made on first use. */
function cluster(): Promise<SharedPostgres> {
  if (shared) return Promise.resolve(shared);
  return (migrated ??= (async () => {
    const { migratedTemplate } = await import("../harness/postgres-project.js");
    return migratedTemplate(await ownServer!());
  })());
}

/**
 * A new database copied from the migrated one (CREATE DATABASE … TEMPLATE,
 * https://www.postgresql.org/docs/15/manage-ag-templatedbs.html): a file copy instead of every
 * migration again for each store a test opens. The copy keeps the template's encoding and
 * collation, which openPostgresStore checks.
 */
async function freshDatabase(): Promise<string> {
  const { url, template } = await cluster();
  const name = `t_${randomBytes(6).toString("hex")}`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
  } finally {
    await client.end();
  }
  const copy = new URL(url);
  copy.pathname = `/${name}`;
  return copy.toString();
}

export interface TestSql {
  /** The rows of a query. */
  rows<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** The first row of a query, or undefined. */
  one<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T | undefined>;
  /** Runs a statement in a transaction of its own. */
  exec(text: string, params?: unknown[]): Promise<void>;
  close(): Promise<void>;
}

/** Opens the store the config names (as `serve` does), with plain SQL on the same database. */
export async function openTestStore(config: Config): Promise<{ store: Store; sql: TestSql }> {
  const store = await openConfiguredStore(config);
  if (store.engine === "sqlite") return { store, sql: sqliteSql(store as SqliteStore) };
  return { store, sql: postgresSql(config.storage.url!) };
}

/**
 * `store` as SQLite's store, for the suites that read the SQLite file directly; on PostgreSQL a
 * getter throws, naming why, rather than failing later on an undefined connection.
 */
export function sqliteOnly(store: Store): SqliteStore {
  if (store.engine !== "sqlite") throw new Error("this test reads SQLite directly (store.sqlite): it runs on SQLite only; use the helper's `sql` or `db` to run on both engines");
  return store as SqliteStore;
}

function sqliteSql(store: SqliteStore): TestSql {
  const rows = async <T,>(text: string, params: unknown[] = []) => store.sqlite.prepare(text).all(...params) as T[];
  return {
    rows,
    one: async (text, params) => (await rows<never>(text, params))[0],
    // Writes only inside a transaction: the store's writing connection holds the file's write lock there.
    exec: (text, params = []) => store.transaction(async () => void store.sqlite.prepare(text).run(...params)),
    close: async () => undefined,
  };
}

/** `?` parameters as PostgreSQL's `$1, $2, …`. */
function numbered(text: string): string {
  let i = 0;
  return text.replace(/\?/g, () => `$${++i}`);
}

/** bigint (int8: count(*), seq) read as a number, as SQLite returns it; other types as node-postgres parses them. */
const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === pg.types.builtins.INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
};

function postgresSql(url: string): TestSql {
  // A pool of its own: reads see what the store committed, as SQLite's reading connection does.
  const pool = new pg.Pool({ connectionString: url, max: 2, types });
  pool.on("error", () => undefined); // an idle connection ended by a server restart; the next query opens another
  const rows = async <T,>(text: string, params: unknown[] = []) => (await pool.query(numbered(text), params)).rows as T[];
  let ended: Promise<void> | undefined;
  return {
    rows,
    one: async (text, params) => (await rows<never>(text, params))[0],
    exec: async (text, params) => void (await rows(text, params)),
    // Idempotent, as the store's close is: a test may close what its afterAll closes again.
    close: () => (ended ??= pool.end()),
  };
}
