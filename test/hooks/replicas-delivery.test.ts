/**
 * Two replicas on one PostgreSQL delivering to one slapd (each its own store, app and worker, wired
 * as `serve` wires them): every replica serves SCIM, one at a time delivers (it holds the
 * "delivery" claim), and the other takes over when the holder's connection ends.
 * - users created through both replicas reach the directory once each (one LDAP add per user in
 *   the shared audit log);
 * - a user created on one replica and deleted at once through the other leaves no entry behind;
 * - the delivering replica's claim connection terminated (as a crash or a partition ends it): a
 *   replica claims delivery again within a few polls and delivers what is written meanwhile.
 */
import { Client } from "pg";
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

interface Replica {
  store: PostgresEngine;
  assembled: Awaited<ReturnType<typeof assemble>>;
  http: ReturnType<typeof supertest>;
}
const replicas: Replica[] = [];
let auth: { Authorization: string };

beforeAll(async () => {
  const config = parseConfig(
    {
      server: { publicUrl: "https://scim.example.test/scim/v2" },
      storage: { url: pg.url, pool: { max: 6 } },
      logging: { level: "silent" },
      targets: [{ name: "slapd", directory: "openldap", urls: [ldap.slapd.url], bindDn: ldap.slapd.rootDn, bindPassword: ldap.slapd.rootPassword, concurrency: 4, timeoutMs: 3000, connectTimeoutMs: 1000 }],
      userRules: [{ name: "people", target: "slapd", dn: `uid={userName},${PEOPLE}` }],
      provisioning: { retryInitialMs: 50, retryMaxMs: 500, pollMs: 50, secretKey: Buffer.alloc(32, 7).toString("base64") },
    },
    {},
  );
  for (let i = 0; i < 2; i++) {
    const store = await openPostgresStore({ url: pg.url, pool: { max: 6 } });
    const assembled = await assemble(config, store, createLogger("silent"));
    await assembled.provisioning.worker.start();
    replicas.push({ store, assembled, http: supertest(assembled.app.app) });
  }
  auth = { Authorization: `Bearer ${await replicas[0]!.assembled.app.tokens.create("idp")}` };
}, 60_000);
afterAll(async () => {
  for (const r of replicas) {
    await r.assembled.provisioning.close();
    await r.store.close();
  }
});

const delivering = () => replicas.filter((r) => r.assembled.provisioning.worker.delivers);
const uids = async (prefix: string) =>
  (await ldap.admin.search(PEOPLE, { scope: "one", filter: `(uid=${prefix}*)`, attributes: ["uid"], paged: { pageSize: 500 } })).searchEntries.map((e) => String(e.uid)).sort();
async function until(cond: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`not done within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
/** Nothing pending or retrying, read from the shared database. */
const settled = async () => (await replicas[0]!.store.syncStatus.failures({ states: ["pending", "retrying"] }, { offset: 0, limit: 1 })).total === 0 && !(await replicas[0]!.store.sync.hasUnfanned());

describe("two replicas on one PostgreSQL and one slapd", () => {
  it("exactly one replica delivers", () => {
    expect(delivering()).toHaveLength(1);
  });

  it("users created through both replicas reach the directory once each", async () => {
    const names = Array.from({ length: 40 }, (_, i) => `both${String(i).padStart(2, "0")}`);
    const created = await Promise.all(names.map((n, i) => replicas[i % 2]!.http.post("/scim/v2/Users").set(auth).send(user(n))));
    expect(created.map((r) => r.status)).toEqual(names.map(() => 201));
    await until(async () => (await uids("both")).length === names.length && (await settled()), 20_000);
    expect(await uids("both")).toEqual(names);
    for (const r of replicas) await r.assembled.app.audit.flush();
    const adds = await replicas[0]!.store.pool.query<{ dn: string; n: string }>("SELECT dn, count(*) AS n FROM audit_log WHERE kind = 'ldap' AND operation = 'add' AND dn LIKE 'uid=both%' GROUP BY dn");
    expect(adds.rows).toHaveLength(names.length);
    expect(adds.rows.every((r) => Number(r.n) === 1)).toBe(true);
  });

  it("created on one replica and deleted at once through the other, 100 times: no entry is left", async () => {
    for (let i = 0; i < 100; i++) {
      const created = await replicas[0]!.http.post("/scim/v2/Users").set(auth).send(user(`gone${i}`));
      expect(created.status).toBe(201);
      expect((await replicas[1]!.http.delete(`/scim/v2/Users/${created.body.id as string}`).set(auth)).status).toBe(204);
    }
    await until(settled, 30_000);
    expect(await uids("gone")).toEqual([]);
  });

  it("when the delivering replica's claim connection ends, delivery goes on: one replica takes the claim again and delivers", async () => {
    const admin = new Client({ connectionString: pg.url });
    await admin.connect();
    try {
      // The session holding the claim (not another replica's attempt, which may be connected too).
      const ended = await admin.query(
        "SELECT pg_terminate_backend(a.pid) FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid WHERE a.application_name = 'scimbridge delivery' AND l.locktype = 'advisory' AND l.granted",
      );
      expect(ended.rowCount).toBe(1);
      // Until a replica claims it again, a write is accepted and waits in the outbox.
      const created = await replicas[0]!.http.post("/scim/v2/Users").set(auth).send(user("after-takeover"));
      expect(created.status).toBe(201);
      await until(async () => (await uids("after-takeover")).length === 1, 10_000);
      expect(delivering()).toHaveLength(1);
      const holders = await admin.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND granted");
      expect(holders.rows[0]).toEqual({ n: 1 });
    } finally {
      await admin.end();
    }
  });
});
