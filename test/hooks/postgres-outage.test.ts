/**
 * PostgreSQL restarted under load, with a replica serving SCIM and delivering to slapd: while the
 * database is down, SCIM writes answer 503 with Retry-After (never 500) and /readyz is unready;
 * every write that was acknowledged (201) is still there afterwards and reaches the directory once
 * the database is back (the worker claims the rows again).
 */
import type supertest from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { usePostgres } from "../harness/postgres.js";
import { useSlapd } from "../harness/slapd.js";
import { user } from "../helpers/app.js";
import { PEOPLE, replicaConfig, startReplica, type Replica } from "../helpers/replicas.js";

// Commits are durable here: the test asserts that nothing acknowledged is lost.
const pg = usePostgres({ settings: { synchronous_commit: "on" } });
const ldap = useSlapd();
let replica: Replica;
let http: ReturnType<typeof supertest>;
let auth: { Authorization: string };

beforeAll(async () => {
  replica = await startReplica(replicaConfig(pg.url, ldap.slapd, { provisioning: { pollMs: 100 } }), { pool: { max: 6, connectionTimeoutMs: 1000 } });
  http = replica.http;
  auth = { Authorization: `Bearer ${await replica.assembled.app.tokens.create("idp")}` };
}, 60_000);
afterAll(async () => {
  await replica?.close();
});

const uids = async () => (await ldap.admin.search(PEOPLE, { scope: "one", filter: "(uid=load*)", attributes: ["uid"], paged: { pageSize: 500 } })).searchEntries.map((e) => String(e.uid)).sort();

describe("PostgreSQL restarted mid-load", () => {
  it("answers 503 (never 500) while it is down, loses nothing acknowledged, and delivery resumes", async () => {
    const acknowledged: string[] = [];
    const statuses: number[] = [];
    let stop = false;
    let n = 0;
    // Writes one after another, through the restart.
    const load = (async () => {
      while (!stop) {
        const name = `load${String(n++).padStart(4, "0")}`;
        const res = await http.post("/scim/v2/Users").set(auth).send(user(name));
        statuses.push(res.status);
        if (res.status === 201) acknowledged.push(name);
        else {
          expect(res.status).toBe(503);
          expect(res.headers["retry-after"]).toBeDefined();
          expect(res.body.schemas).toEqual(["urn:ietf:params:scim:api:messages:2.0:Error"]);
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await new Promise((r) => setTimeout(r, 500));
    const down = pg.server.kill();
    await down;
    // While it is down: /readyz unready, writes refused with 503.
    const ready = await http.get("/readyz");
    expect(ready.status).toBe(503);
    await new Promise((r) => setTimeout(r, 1500));
    await pg.server.restart();
    await new Promise((r) => setTimeout(r, 1500));
    stop = true;
    await load;
    expect(statuses.filter((s) => s !== 201 && s !== 503)).toEqual([]);
    expect(statuses).toContain(503);
    expect((await http.get("/readyz")).status).toBe(200);
    // Every acknowledged write is in the database and reaches the directory.
    const deadline = Date.now() + 20_000;
    while ((await uids()).length < acknowledged.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const inLdap = await uids();
    expect(acknowledged.filter((a) => !inLdap.includes(a))).toEqual([]);
    expect(acknowledged.length).toBeGreaterThan(10);
  }, 60_000);
});
