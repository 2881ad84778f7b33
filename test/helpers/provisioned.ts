/**
 * The whole chain for integration tests: the SCIM app and its delivery worker (wired exactly as
 * `serve` wires them) on a temp SQLite file, or a PostgreSQL database when
 * SCIMBRIDGE_TEST_STORE=postgres (test/helpers/test-store.ts), delivering to a real slapd.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import supertest from "supertest";
import type { SqliteStore } from "../../db/open.js";
import type { Store } from "../../db/store.js";
import { parseConfig } from "../../server/config/load.js";
import { createLogger } from "../../server/logger.js";
import { assemble, type Observers } from "../../server/serve.js";
import type { TestSlapd } from "../harness/slapd.js";
import { openTestStore, sqliteOnly, TEST_SECRET_KEY, testStorage, type TestEngine, type TestSql } from "./test-store.js";

export interface Provisioned {
  http: ReturnType<typeof supertest>;
  auth: { Authorization: string };
  engine: TestEngine;
  /** The store on either engine. */
  db: Store;
  /** Plain SQL with `?` parameters on the store's database, either engine. */
  sql: TestSql;
  /** SQLite's store, for suites that read the file directly; throws on PostgreSQL. */
  readonly store: SqliteStore;
  assembled: Awaited<ReturnType<typeof assemble>>;
  /** Waits (bounded) until every committed change has been delivered or has failed. */
  /** Waits until no delivery is pending or retrying, then writes the audit rows recorded so far. */
  settle(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function provisioned(
  ldap: Pick<TestSlapd, "slapd"> | undefined,
  doc: {
    userRules: Record<string, unknown>[];
    groupRules?: Record<string, unknown>[];
    /** Replaces the default single target named "slapd" (e.g. a Samba AD DC, or two directories). */
    targets?: Record<string, unknown>[];
    provisioning?: Record<string, unknown>;
    /** On PostgreSQL, names a database: the same dbFile reopens the same database. */
    dbFile?: string;
    admin?: Record<string, unknown>;
    /** The `scim` config section (limits, paging). */
    scim?: Record<string, unknown>;
    /** Listeners passed to assemble(), as startServer passes them. */
    observers?: Observers;
  },
): Promise<Provisioned> {
  if (!ldap && !doc.targets) throw new Error("provisioned(): pass a slapd or targets");
  // With dbFile the caller owns the database (to restart on it); otherwise a temp dir is used.
  const dir = doc.dbFile ? undefined : mkdtempSync(join(tmpdir(), "scimbridge-prov-"));
  const config = parseConfig(
    {
      server: { publicUrl: "https://scim.example.test/scim/v2" },
      storage: await testStorage(doc.dbFile ?? join(dir!, "scim.db")),
      logging: { level: "silent" },
      targets: doc.targets ?? [
        { name: "slapd", directory: "openldap", urls: [ldap!.slapd.url], bindDn: ldap!.slapd.rootDn, bindPassword: ldap!.slapd.rootPassword, concurrency: 4, timeoutMs: 3000, connectTimeoutMs: 1000 },
      ],
      userRules: doc.userRules,
      ...(doc.groupRules ? { groupRules: doc.groupRules } : {}),
      ...(doc.admin ? { admin: doc.admin } : {}),
      ...(doc.scim ? { scim: doc.scim } : {}),
      provisioning: { retryInitialMs: 50, retryMaxMs: 500, pollMs: 50, secretKey: TEST_SECRET_KEY, ...doc.provisioning },
    },
    {},
  );
  const { store, sql } = await openTestStore(config);
  const assembled = await assemble(config, store, createLogger("silent"), doc.observers);
  await assembled.provisioning.worker.start();
  await assembled.app.tokens.revoke("test"); // a restart on the same database keeps the old one
  const token = await assembled.app.tokens.create("test");
  // Read on the store's read-only connection: the committed state, never a transaction's rows
  // between two of its statements.
  const unsettled = () => store.syncStatus.failures({ states: ["pending", "retrying"] }, { offset: 0, limit: 20 });
  return {
    http: supertest(assembled.app.app),
    auth: { Authorization: `Bearer ${token}` },
    engine: store.engine,
    db: store,
    sql,
    get store() {
      return sqliteOnly(store);
    },
    assembled,
    async settle(timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      while (Date.now() < until) {
        if ((await assembled.provisioning.worker.idle()) && (await unsettled()).total === 0) {
          // Settled includes recorded: the audit log writes a turn's rows at the turn's end, and
          // tests read audit_log with plain SQL.
          await assembled.app.audit.flush();
          return;
        }
        await new Promise((r) => setTimeout(r, 25));
      }
      const rows = (await unsettled()).rows.map((r) => ({ resource_id: r.resourceId, rule: r.rule, state: r.state, last_error: r.lastError }));
      throw new Error(`deliveries did not settle in ${timeoutMs} ms: ${JSON.stringify(rows)}`);
    },
    async close() {
      await assembled.provisioning.close();
      await sql.close();
      await store.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
