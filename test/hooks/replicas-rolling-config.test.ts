/**
 * A rolling deploy on PostgreSQL with two config generations: the newer config adds a rule; a
 * replica still on the older config does not know it. Whichever replica delivers, nothing the newer
 * rule wrote is deprovisioned (on SQLite, one process, a rule missing from the config is
 * deprovisioned at start by its onRuleRemoved action; on PostgreSQL another replica may still run
 * a config that has it, so a missing rule is only reported).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { usePostgres } from "../harness/postgres.js";
import { useSlapd } from "../harness/slapd.js";
import { user } from "../helpers/app.js";
import { eventually, replicaConfig, startReplica, type Replica } from "../helpers/replicas.js";

const pg = usePostgres();
const ldap = useSlapd();
const SUFFIX = "dc=example,dc=com";
const people = { name: "people", target: "slapd", dn: `uid={userName},ou=people,${SUFFIX}` };
// The newer config's rule, which deletes its entries if it is ever taken for removed.
const added = { name: "added", target: "slapd", dn: `uid={userName},ou=groups,${SUFFIX}`, actions: { deprovision: { onRuleRemoved: "delete" } } };

const running: Replica[] = [];

async function replica(userRules: Record<string, unknown>[]): Promise<Replica> {
  const r = await startReplica(replicaConfig(pg.url, ldap.slapd, { doc: { userRules } }), { pool: { max: 4 } });
  running.push(r);
  return r;
}
async function stop(r: Replica): Promise<void> {
  running.splice(running.indexOf(r), 1);
  await r.close();
}
afterAll(async () => {
  for (const r of [...running]) await stop(r);
});

const entries = async (ou: string) => (await ldap.admin.search(`ou=${ou},${SUFFIX}`, { scope: "one", filter: "(uid=rolling*)", attributes: ["uid"] })).searchEntries.length;
describe("a rolling deploy on PostgreSQL with two config generations", () => {
  let newer: Replica;

  beforeAll(async () => {
    // The newer generation first: it writes both rules' entries.
    newer = await replica([people, added]);
    const http = newer.http;
    const auth = { Authorization: `Bearer ${await newer.assembled.app.tokens.create("idp")}` };
    for (let i = 0; i < 5; i++) expect((await http.post("/scim/v2/Users").set(auth).send(user(`rolling${i}`))).status).toBe(201);
    await eventually(async () => (await entries("people")) === 5 && (await entries("groups")) === 5, 15_000);
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
