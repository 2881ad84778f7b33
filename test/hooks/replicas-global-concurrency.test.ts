/**
 * A target's limit of deliveries across replicas (`targets[].globalConcurrency`): two replicas on
 * one PostgreSQL, each allowed 4 deliveries in flight to the target, the target allowed 3 in all.
 * With the directory frozen (SIGSTOP), deliveries hang as they start: at no point do the two
 * replicas together hold more than 3 of its rows, and once the directory answers again every user
 * reaches it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { usePostgres } from "../harness/postgres.js";
import { useSlapd } from "../harness/slapd.js";
import { user } from "../helpers/app.js";
import { PEOPLE, replicaConfig, startReplica, type Replica } from "../helpers/replicas.js";

const pg = usePostgres();
const ldap = useSlapd();
const GLOBAL = 3;
const USERS = 12;

const replicas: Replica[] = [];
let auth: { Authorization: string };
let frozen = false;

beforeAll(async () => {
  const config = replicaConfig(pg.url, ldap.slapd, {
    target: { globalConcurrency: GLOBAL, timeoutMs: 60_000 },
    provisioning: { retryInitialMs: 500, retryMaxMs: 60_000 },
  });
  for (let i = 0; i < 2; i++) replicas.push(await startReplica(config));
  auth = { Authorization: `Bearer ${await replicas[0]!.assembled.app.tokens.create("idp")}` };
}, 60_000);
afterEach(() => {
  if (frozen) ldap.slapd.kill("SIGCONT");
  frozen = false;
});
afterAll(async () => {
  for (const r of replicas) await r.close();
});

const liveLeases = async () =>
  (await replicas[0]!.store.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM sync_state WHERE target = 'slapd' AND lease_until > $1", [new Date().toISOString()])).rows[0]!.n;

describe("a target's limit of deliveries across replicas", () => {
  it("two replicas never hold more of its rows than globalConcurrency, and everything is delivered once it answers", async () => {
    // The directory answers the workers' binds first, then freezes: their operations hang.
    ldap.slapd.kill("SIGSTOP");
    frozen = true;
    const created = await Promise.all(Array.from({ length: USERS }, (_, i) => replicas[i % 2]!.http.post("/scim/v2/Users").set(auth).send(user(`capped${String(i).padStart(2, "0")}`))));
    expect(created.map((r) => r.status)).toEqual(created.map(() => 201));
    let most = 0;
    for (let i = 0; i < 40; i++) {
      most = Math.max(most, await liveLeases());
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(most).toBe(GLOBAL);

    ldap.slapd.kill("SIGCONT");
    frozen = false;
    const deadline = Date.now() + 30_000;
    let found = 0;
    while (found < USERS && Date.now() < deadline) {
      found = (await ldap.admin.search(PEOPLE, { scope: "one", filter: "(uid=capped*)", attributes: ["uid"] })).searchEntries.length;
      if (found < USERS) await new Promise((r) => setTimeout(r, 100));
    }
    expect(found).toBe(USERS);
  }, 60_000);
});
