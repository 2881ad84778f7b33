/**
 * A rolling deploy on PostgreSQL with two config generations: the newer config adds a rule; a
 * replica still on the older config does not know it. Whichever replica delivers, nothing the newer
 * rule wrote is deprovisioned (on SQLite, one process, a rule missing from the config is
 * deprovisioned at start by its onRuleRemoved action; on PostgreSQL another replica may still run
 * a config that has it, so a missing rule is only reported).
 */
import supertest from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgresStore, type PostgresEngine } from "../../db/pg/open.js";
import { parseConfig } from "../../server/config/load.js";
import { createLogger } from "../../server/logger.js";
import { assemble } from "../../server/serve.js";
import { usePostgres } from "../harness/postgres.js";
import { useSlapd } from "../harness/slapd.js";
import { user } from "../helpers/app.js";

const pg = usePostgres();
const ldap = useSlapd();
const SUFFIX = "dc=example,dc=com";
const people = { name: "people", target: "slapd", dn: `uid={userName},ou=people,${SUFFIX}` };
// The newer config's rule, which deletes its entries if it is ever taken for removed.
const added = { name: "added", target: "slapd", dn: `uid={userName},ou=groups,${SUFFIX}`, actions: { deprovision: { onRuleRemoved: "delete" } } };

interface Replica {
  store: PostgresEngine;
  assembled: Awaited<ReturnType<typeof assemble>>;
}
const running: Replica[] = [];

async function replica(userRules: Record<string, unknown>[]): Promise<Replica> {
  const config = parseConfig(
    {
      server: { publicUrl: "https://scim.example.test/scim/v2" },
      storage: { url: pg.url, pool: { max: 4 } },
      logging: { level: "silent" },
      targets: [{ name: "slapd", directory: "openldap", urls: [ldap.slapd.url], bindDn: ldap.slapd.rootDn, bindPassword: ldap.slapd.rootPassword, concurrency: 4, timeoutMs: 3000, connectTimeoutMs: 1000 }],
      userRules,
      provisioning: { retryInitialMs: 50, retryMaxMs: 500, pollMs: 50, secretKey: Buffer.alloc(32, 7).toString("base64") },
    },
    {},
  );
  const store = await openPostgresStore({ url: pg.url, pool: { max: 4 } });
  const assembled = await assemble(config, store, createLogger("silent"));
  await assembled.provisioning.worker.start();
  const r = { store, assembled };
  running.push(r);
  return r;
}
async function stop(r: Replica): Promise<void> {
  running.splice(running.indexOf(r), 1);
  await r.assembled.provisioning.close();
  await r.store.close();
}
afterAll(async () => {
  for (const r of [...running]) await stop(r);
});

const entries = async (ou: string) => (await ldap.admin.search(`ou=${ou},${SUFFIX}`, { scope: "one", filter: "(uid=rolling*)", attributes: ["uid"] })).searchEntries.length;
async function until(cond: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`not done within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
describe("a rolling deploy on PostgreSQL with two config generations", () => {
  let newer: Replica;

  beforeAll(async () => {
    // The newer generation first: it writes both rules' entries.
    newer = await replica([people, added]);
    const http = supertest(newer.assembled.app.app);
    const auth = { Authorization: `Bearer ${await newer.assembled.app.tokens.create("idp")}` };
    for (let i = 0; i < 5; i++) expect((await http.post("/scim/v2/Users").set(auth).send(user(`rolling${i}`))).status).toBe(201);
    await until(async () => (await entries("people")) === 5 && (await entries("groups")) === 5, 15_000);
  }, 60_000);

  it("a replica started on the older config, delivering, deprovisions nothing of the rule it does not know", async () => {
    const older = await replica([people]);
    // Leave the older replica the only one delivering: stop the newer one's worker.
    await newer.assembled.provisioning.worker.stop();
    // A few polls of delivering on the older config.
    await new Promise((r) => setTimeout(r, 1000));
    expect(await entries("groups")).toBe(5);
    expect(await entries("people")).toBe(5);
    // The newer rule's rows are untouched: still in_sync, none queued for deprovisioning.
    const rows = await older.store.pool.query<{ state: string; n: number }>("SELECT state, count(*)::int AS n FROM sync_state WHERE rule = 'added' GROUP BY state");
    expect(rows.rows).toEqual([{ state: "in_sync", n: 5 }]);
    await stop(older);
  });
});
