/**
 * A committed SCIM write yields one event-loop turn before its response is sent, so the delivery
 * worker's pump (queued by the commit, as DeliveryWorker.wake() does) starts the LDAP operation
 * first. The body is rendered before the wait: it shows what this request committed even when
 * another write lands in between.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import supertest from "supertest";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { group, PATCH_OP, testApp, user, type TestApp } from "../helpers/app.js";

let t: TestApp;
let server: Server;
let http: ReturnType<typeof supertest>;
let events: string[] = [];
/** Runs in the turn the commit queued, like the worker's pump. */
let duringDeliveryTurn: (() => void) | undefined;

beforeAll(async () => {
  t = testApp(
    {},
    {
      onCommit: () => {
        events.push("commit");
        setImmediate(() => {
          events.push("delivery turn");
          duringDeliveryTurn?.();
        });
      },
    },
  );
  server = createServer((req, res) => {
    res.on("finish", () => events.push("response"));
    t.app(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  http = supertest(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  t.close();
});
beforeEach(() => {
  events = [];
  duringDeliveryTurn = undefined;
});

describe("a write's response yields to the delivery its commit woke", () => {
  it("POST, PUT, PATCH and DELETE answer after the turn the commit queued", async () => {
    const created = await http.post("/scim/v2/Users").set(t.auth).send(user("order1"));
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const put = await http.put(`/scim/v2/Users/${id}`).set(t.auth).send(user("order1", { title: "Engineer" }));
    expect(put.status).toBe(200);
    const patch = await http.patch(`/scim/v2/Users/${id}`).set(t.auth).send({ schemas: [PATCH_OP], Operations: [{ op: "replace", path: "title", value: "Lead" }] });
    expect(patch.status).toBe(200);
    const del = await http.delete(`/scim/v2/Users/${id}`).set(t.auth);
    expect(del.status).toBe(204);
    expect(events).toEqual(Array.from({ length: 4 }, () => ["commit", "delivery turn", "response"]).flat());
  });

  it("the body and ETag are what this request committed, even when another write lands during the wait", async () => {
    const u = (await http.post("/scim/v2/Users").set(t.auth).send(user("order2"))).body;
    const g = (await http.post("/scim/v2/Groups").set(t.auth).send(group("ordered", [u.id]))).body;
    let interleaved = false;
    duringDeliveryTurn = () => {
      if (interleaved) return;
      interleaved = true;
      // Another client's write, committed between this request's commit and its response.
      t.service.patch(
        "Group",
        g.id,
        { schemas: [PATCH_OP], Operations: [{ op: "replace", path: "displayName", value: "renamed" }, { op: "add", path: "members", value: [{ value: u.id }] }] },
        { baseUrl: "https://scim.example.test/scim/v2", client: "other" },
        undefined,
      );
    };
    // The representation is asked for (RFC 7240): a group PATCH answers 204 by default.
    const res = await http.patch(`/scim/v2/Groups/${g.id}`).set(t.auth).set("Prefer", "return=representation").send({ schemas: [PATCH_OP], Operations: [{ op: "remove", path: "members" }] });
    expect(res.status).toBe(200);
    expect(interleaved).toBe(true);
    expect(res.body.displayName).toBe("ordered");
    expect(res.body.members ?? []).toEqual([]);
    expect(res.headers.etag).toBe('"2"');
    expect(res.body.meta.version).toBe('"2"');
    const now = await http.get(`/scim/v2/Groups/${g.id}`).set(t.auth);
    expect(now.body.displayName).toBe("renamed");
    expect(now.body.members.map((m: { value: string }) => m.value)).toEqual([u.id]);
    expect(now.headers.etag).toBe('"3"');
  });

  it("a write that changed nothing answers at once (no delivery to yield to)", async () => {
    const u = (await http.post("/scim/v2/Users").set(t.auth).send(user("order3", { title: "Same" }))).body;
    events = [];
    const res = await http.patch(`/scim/v2/Users/${u.id}`).set(t.auth).send({ schemas: [PATCH_OP], Operations: [{ op: "replace", path: "title", value: "Same" }] });
    expect(res.status).toBe(200);
    expect(events.indexOf("response")).toBeLessThan(events.indexOf("delivery turn"));
  });
});
