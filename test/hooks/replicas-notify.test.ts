/**
 * A change written through a replica whose worker is stopped wakes another replica's at once: the
 * outbox's trigger notifies at commit (LISTEN/NOTIFY), so delivery does not wait for the next poll.
 * Polls here are 10 s apart, so a delivery within 3 s comes from the notification; it would not
 * without one.
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
const PEOPLE = "ou=people,dc=example,dc=com";
const replicas: { store: PostgresEngine; assembled: Awaited<ReturnType<typeof assemble>> }[] = [];

beforeAll(async () => {
  const config = parseConfig(
    {
      server: { publicUrl: "https://scim.example.test/scim/v2" },
      storage: { url: pg.url, pool: { max: 4 } },
      logging: { level: "silent" },
      targets: [{ name: "slapd", directory: "openldap", urls: [ldap.slapd.url], bindDn: ldap.slapd.rootDn, bindPassword: ldap.slapd.rootPassword, concurrency: 4, timeoutMs: 3000, connectTimeoutMs: 1000 }],
      userRules: [{ name: "people", target: "slapd", dn: `uid={userName},${PEOPLE}` }],
      provisioning: { pollMs: 10_000, secretKey: Buffer.alloc(32, 7).toString("base64") },
    },
    {},
  );
  for (let i = 0; i < 2; i++) {
    const store = await openPostgresStore({ url: pg.url, pool: { max: 4 } });
    const assembled = await assemble(config, store, createLogger("silent"));
    await assembled.provisioning.worker.start();
    replicas.push({ store, assembled });
  }
}, 60_000);
afterAll(async () => {
  for (const r of replicas) {
    await r.assembled.provisioning.close();
    await r.store.close();
  }
});

describe("LISTEN/NOTIFY between replicas", () => {
  it("a user created through a replica whose worker is stopped reaches the directory well before the next poll", async () => {
    // The other replica's worker is the only one delivering: it learns of the write only by the
    // notification (its next poll is 10 s away).
    const quiet = replicas[1]!;
    await quiet.assembled.provisioning.worker.stop();
    // Let the delivering replica's listener connect and its first poll pass.
    await new Promise((r) => setTimeout(r, 500));
    const http = supertest(quiet.assembled.app.app);
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
