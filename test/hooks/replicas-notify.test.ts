/**
 * A change written through a replica whose worker is stopped wakes another replica's at once: the
 * outbox's trigger notifies at commit (LISTEN/NOTIFY), so delivery does not wait for the next poll.
 * Polls here are 10 s apart, so a delivery within 3 s comes from the notification; it would not
 * without one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { usePostgres } from "../harness/postgres.js";
import { useSlapd } from "../harness/slapd.js";
import { user } from "../helpers/app.js";
import { PEOPLE, replicaConfig, startReplica, type Replica } from "../helpers/replicas.js";

const pg = usePostgres();
const ldap = useSlapd();
const replicas: Replica[] = [];

beforeAll(async () => {
  // Polls 10 s apart: a delivery within 3 s comes from the notification. Retries as by default.
  const config = replicaConfig(pg.url, ldap.slapd, { provisioning: { pollMs: 10_000, retryInitialMs: 500, retryMaxMs: 60_000 } });
  for (let i = 0; i < 2; i++) replicas.push(await startReplica(config, { pool: { max: 4 } }));
}, 60_000);
afterAll(async () => {
  for (const r of replicas) await r.close();
});

describe("LISTEN/NOTIFY between replicas", () => {
  it("a user created through a replica whose worker is stopped reaches the directory well before the next poll", async () => {
    // The other replica's worker is the only one delivering: it learns of the write only by the
    // notification (its next poll is 10 s away).
    const quiet = replicas[1]!;
    await quiet.assembled.provisioning.worker.stop();
    // Let the delivering replica's listener connect and its first poll pass.
    await new Promise((r) => setTimeout(r, 500));
    const http = quiet.http;
    const auth = { Authorization: `Bearer ${await quiet.assembled.app.tokens.create("idp")}` };
    const t0 = Date.now();
    expect((await http.post("/scim/v2/Users").set(auth).send(user("notified"))).status).toBe(201);
    let found = false;
    while (!found && Date.now() - t0 < 3000) {
      found = (await ldap.admin.search(PEOPLE, { scope: "one", filter: "(uid=notified)", attributes: ["uid"] })).searchEntries.length === 1;
      if (!found) await new Promise((r) => setTimeout(r, 50));
    }
    expect(found).toBe(true);
  });
});
