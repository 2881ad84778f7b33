/**
 * Replicas for the multi-replica tests: each its own PostgreSQL store, app and delivery worker,
 * wired as `serve` wires them (server/serve.ts assemble), on the test's PostgreSQL and slapd.
 */
import supertest from "supertest";
import { openPostgresStore, type PostgresEngine, type PostgresStoreOptions } from "../../db/pg/open.js";
import { parseConfig } from "../../server/config/load.js";
import type { Config } from "../../server/config/schema.js";
import { createLogger } from "../../server/logger.js";
import { assemble, type Observers } from "../../server/serve.js";

export const PEOPLE = "ou=people,dc=example,dc=com";
export const REPLICA_SECRET_KEY = Buffer.alloc(32, 7).toString("base64");

interface Directory {
  url: string;
  rootDn: string;
  rootPassword: string;
}

/**
 * A replica's config: one openldap target named "slapd" on `slapd`, a "people" rule under
 * ou=people unless `doc.userRules` says otherwise; `target` and `provisioning` are merged over the
 * defaults, the rest of `doc` over the top level.
 */
export function replicaConfig(
  pgUrl: string,
  slapd: Directory,
  o: { target?: Record<string, unknown>; provisioning?: Record<string, unknown>; doc?: Record<string, unknown> } = {},
): Config {
  return parseConfig(
    {
      server: { publicUrl: "https://scim.example.test/scim/v2" },
      storage: { url: pgUrl, pool: { max: 6 } },
      logging: { level: "silent" },
      targets: [{ name: "slapd", directory: "openldap", urls: [slapd.url], bindDn: slapd.rootDn, bindPassword: slapd.rootPassword, concurrency: 4, timeoutMs: 3000, connectTimeoutMs: 1000, ...o.target }],
      userRules: [{ name: "people", target: "slapd", dn: `uid={userName},${PEOPLE}` }],
      ...o.doc,
      provisioning: { retryInitialMs: 50, retryMaxMs: 500, pollMs: 50, secretKey: REPLICA_SECRET_KEY, ...o.provisioning },
    },
    {},
  );
}

export interface Replica {
  store: PostgresEngine;
  assembled: Awaited<ReturnType<typeof assemble>>;
  http: ReturnType<typeof supertest>;
  /** Stops the worker and closes the connections. */
  close(): Promise<void>;
}

/** Opens a replica on `config`'s database and starts its worker (`worker: false`: not yet). */
export async function startReplica(config: Config, o: { pool?: PostgresStoreOptions["pool"]; observers?: Observers; worker?: boolean } = {}): Promise<Replica> {
  const store = await openPostgresStore({ url: config.storage.url!, pool: o.pool ?? { max: 6 } });
  const assembled = await assemble(config, store, createLogger("silent"), o.observers);
  if (o.worker !== false) await assembled.provisioning.worker.start();
  return {
    store,
    assembled,
    http: supertest(assembled.app.app),
    async close() {
      await assembled.provisioning.close();
      await store.close();
    },
  };
}

/** Polls `cond` every 50 ms until it holds; throws after `ms`. */
export async function eventually(cond: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`not done within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
