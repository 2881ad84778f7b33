/**
 * Backpressure on SCIM writes (server/http/write-backpressure.ts): over provisioning.maxBacklog
 * changes waiting for delivery, a write waits for the worker, and past backlogWaitMs it gets 503
 * with Retry-After and writes nothing; reads are never held; once the worker catches up, a held
 * write goes through. A directory that does not answer stops counting once a delivery to it has
 * failed, so an outage never holds intake back for longer than one timeout.
 */
import { createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { user } from "../helpers/app.js";
import { provisioned, type Provisioned } from "../helpers/provisioned.js";
import { useSlapd } from "../harness/slapd.js";

const ldap = useSlapd();
let p: Provisioned;

beforeAll(async () => {
  p = await provisioned(ldap, {
    userRules: [{ name: "people", target: "slapd", dn: "uid={userName},ou=people,dc=example,dc=com" }],
    provisioning: { maxBacklog: 3, backlogWaitMs: 1500 },
  });
  // Nothing is delivered until the test says so: every write adds to the backlog.
  await p.assembled.provisioning.worker.stop();
});
afterAll(async () => p?.close());

const post = (userName: string) => p.http.post("/scim/v2/Users").set(p.auth).send(user(userName));
const count = async () => (await p.http.get("/scim/v2/Users").set(p.auth)).body.totalResults as number;

describe("SCIM writes wait while the delivery backlog is over provisioning.maxBacklog", () => {
  it("takes writes up to the bound, then refuses with 503 and Retry-After after the wait, writing nothing", async () => {
    for (const name of ["bp-1", "bp-2", "bp-3"]) expect((await post(name)).status).toBe(201);
    // A fourth change would still be taken (3 waiting is not over 3); a fifth is over.
    expect((await post("bp-4")).status).toBe(201);
    await new Promise((r) => setTimeout(r, 60)); // the backlog count is reused for 50 ms
    const t0 = performance.now();
    const refused = await post("bp-5");
    expect(refused.status).toBe(503);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1450);
    expect(refused.headers["retry-after"]).toBe("5");
    expect(refused.body.schemas).toEqual(["urn:ietf:params:scim:api:messages:2.0:Error"]);
    expect(refused.body.detail).toMatch(/waiting for delivery/);
    expect(await count()).toBe(4);
  });

  it("never holds a read", async () => {
    const t0 = performance.now();
    expect((await p.http.get("/scim/v2/Users?filter=userName%20eq%20%22bp-1%22").set(p.auth)).status).toBe(200);
    expect((await p.http.post("/scim/v2/Users/.search").set(p.auth).send({ schemas: ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"] })).status).toBe(200);
    expect(performance.now() - t0).toBeLessThan(300);
  });

  it("a held write goes through once the worker has caught up", async () => {
    const held = post("bp-6");
    await new Promise((r) => setTimeout(r, 50));
    await p.assembled.provisioning.worker.start();
    expect((await held).status).toBe(201);
    await p.settle();
    expect(await ldap.search("uid=bp-6,ou=people,dc=example,dc=com")).toBeDefined();
  });
});

describe("a directory that does not answer", () => {
  let silent: Server;
  const sockets = new Set<Socket>();
  let q: Provisioned;

  beforeAll(async () => {
    // Accepts LDAP connections and never answers: every delivery times out.
    silent = createServer((socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const url = `ldap://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    q = await provisioned(undefined, {
      targets: [{ name: "silent", directory: "openldap", urls: [url], bindDn: "cn=admin,dc=example,dc=com", bindPassword: "x", concurrency: 1, timeoutMs: 400, connectTimeoutMs: 400 }],
      userRules: [{ name: "people", target: "silent", dn: "uid={userName},ou=people,dc=example,dc=com" }],
      provisioning: { maxBacklog: 2, backlogWaitMs: 8000 },
    });
  });
  afterAll(async () => {
    await q?.close();
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent?.close(r));
  });

  it("holds writes at most until a delivery to it has failed, then takes them all", async () => {
    const t0 = performance.now();
    for (let i = 0; i < 8; i++) {
      const res = await q.http.post("/scim/v2/Users").set(q.auth).send(user(`silent-${i}`));
      expect(res.status).toBe(201);
    }
    // Without leaving the failing target's rows out, the fourth write would wait the full 8 s and get 503.
    expect(performance.now() - t0).toBeLessThan(6000);
  });
});
