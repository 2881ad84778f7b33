/**
 * A real PostgreSQL for tests: `const pg = usePostgres()` starts a throwaway cluster
 * (test/harness/postgres-cluster.ts) in beforeAll, gives the test file its own database, and stops
 * it (and removes its directory) in afterAll.
 *
 * The cluster fails to start with the reason and PostgreSQL's own log (not installed, did not come
 * up): the PostgreSQL tests never skip silently.
 */
import { afterAll, beforeAll } from "vitest";
import { startPostgres, type PostgresOptions, type PostgresServer } from "./postgres-cluster.js";

export { findPostgresBin, startPostgres, type PostgresOptions, type PostgresServer } from "./postgres-cluster.js";

// --- vitest wiring ---------------------------------------------------------------------------------

export interface TestPostgres {
  server: PostgresServer;
  /** This test file's own database (created in beforeAll). */
  url: string;
}

/**
 * Registers beforeAll/afterAll for one PostgreSQL and one database of this test file. The fields
 * are filled in by beforeAll, so read them inside tests and hooks, not at module level.
 */
export function usePostgres(opts: PostgresOptions = {}): TestPostgres {
  const ctx = {} as TestPostgres;
  beforeAll(async () => {
    const server = await startPostgres(opts);
    try {
      Object.assign(ctx, { server, url: await server.createDatabase() } satisfies TestPostgres);
    } catch (e) {
      await server.stop();
      throw e;
    }
  }, 60_000);
  afterAll(async () => {
    await ctx.server?.stop();
  }, 30_000);
  return ctx;
}

/**
 * One PostgreSQL for this test file, started by the first call of the returned function (from a
 * test or a hook: test helpers start it only when a test opens a store on PostgreSQL) and stopped
 * in afterAll. Call it while the file is collected (at module level), where afterAll can be
 * registered; a start that failed fails every later call with the same error.
 */
export function postgresOnDemand(opts: PostgresOptions = {}): () => Promise<PostgresServer> {
  let started: Promise<PostgresServer> | undefined;
  afterAll(async () => {
    const server = await started?.catch(() => undefined);
    await server?.stop();
  }, 30_000);
  return () => (started ??= startPostgres(opts));
}
