/**
 * A real app on a real store, with one bearer token: a SQLite file in a temp dir, or a fresh
 * PostgreSQL database when SCIMBRIDGE_TEST_STORE=postgres (test/helpers/test-store.ts). Tests call close().
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import supertest from "supertest";
import type { SqliteStore } from "../../db/open.js";
import type { Store } from "../../db/store.js";
import { createApp, type AppDeps } from "../../server/app.js";
import { parseConfig } from "../../server/config/load.js";
import type { Config } from "../../server/config/schema.js";
import { createLogger } from "../../server/logger.js";
import { openTestStore, sqliteOnly, TEST_SECRET_KEY, testStorage, type TestEngine, type TestSql } from "./test-store.js";

export interface TestApp extends ReturnType<typeof createApp> {
  config: Config;
  dir: string;
  /** The SQLite file (on PostgreSQL, the name its database is known by in this test file). */
  dbFile: string;
  token: string;
  auth: { Authorization: string };
  http: ReturnType<typeof supertest>;
  engine: TestEngine;
  /** The store on either engine. */
  db: Store;
  /** Plain SQL with `?` parameters on the store's database, either engine. */
  sql: TestSql;
  /** SQLite's store, for suites that read the file directly; throws on PostgreSQL. */
  readonly store: SqliteStore;
  close(): Promise<void>;
}

export async function testApp(configDoc: Record<string, unknown> = {}, extra: Partial<AppDeps> = {}): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), "scimbridge-test-"));
  const dbFile = join(dir, "scim.db");
  // A fixed public URL: supertest listens on a new port per request, so host-derived URLs differ.
  const server = { publicUrl: "https://scim.example.test/scim/v2", ...(configDoc.server as object | undefined) };
  const storage = await testStorage(dbFile);
  // PostgreSQL requires a secret key (several replicas seal passwords under one key).
  const provisioning = "url" in storage ? { secretKey: TEST_SECRET_KEY, ...(configDoc.provisioning as object | undefined) } : configDoc.provisioning;
  const config = parseConfig({ ...configDoc, server, storage, ...(provisioning ? { provisioning } : {}), logging: { level: "silent" } }, {});
  const { store, sql } = await openTestStore(config);
  const app = createApp({ config, store, logger: createLogger("silent"), ...extra });
  const token = await app.tokens.create("test-client");
  return {
    ...app,
    config,
    dir,
    dbFile,
    token,
    engine: store.engine,
    db: store,
    sql,
    get store() {
      return sqliteOnly(store);
    },
    auth: { Authorization: `Bearer ${token}` },
    http: supertest(app.app),
    async close() {
      await sql.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User";
export const GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group";
export const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
export const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

export const user = (userName: string, extra: Record<string, unknown> = {}) => ({
  schemas: [USER_SCHEMA],
  userName,
  name: { givenName: "Given", familyName: "Family" },
  emails: [{ value: `${userName}@example.com`, type: "work", primary: true }],
  active: true,
  ...extra,
});

export const group = (displayName: string, members: string[] = [], extra: Record<string, unknown> = {}) => ({
  schemas: [GROUP_SCHEMA],
  displayName,
  members: members.map((value) => ({ value })),
  ...extra,
});
