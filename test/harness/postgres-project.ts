/**
 * vitest globalSetup of the "postgres" project (vitest.config.ts): one PostgreSQL for the whole run
 * instead of one per test file (a cluster's initdb and start cost about two seconds, times every
 * file), and in it a database migrated once, which each store a test opens is copied from
 * (test/helpers/test-store.ts). Stopped, its directory removed, when the run ends.
 */
import type { TestProject } from "vitest/node";
import { openPostgresStore } from "../../db/pg/open.js";
import { startPostgres, type PostgresServer } from "./postgres-cluster.js";

/** What the test files read with inject("postgres"). */
export interface SharedPostgres {
  /** The bootstrap superuser's URL on database `postgres`. */
  url: string;
  /** The migrated database new ones are copied from. */
  template: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    postgres?: SharedPostgres;
  }
}

/** Creates and migrates the database new ones are copied from, on `server`. */
export async function migratedTemplate(server: PostgresServer): Promise<SharedPostgres> {
  const template = "scimbridge_migrated";
  // Closed again at once: a database is copied only while no one is connected to it.
  const store = await openPostgresStore({ url: await server.createDatabase(template), pool: { max: 1 } });
  await store.close();
  return { url: server.url, template };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startPostgres();
  try {
    project.provide("postgres", await migratedTemplate(server));
  } catch (e) {
    await server.stop();
    throw e;
  }
  return () => server.stop();
}
