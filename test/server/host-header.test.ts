/**
 * Links (Location, meta.location, $ref; RFC 7644 §3.1) without server.publicUrl: the Host header
 * is used only when it names this server (server.hostNames, the address the connection came in
 * on, localhost over loopback); any other Host is ignored, and two Host headers are a 400.
 */
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { group, testApp, user, type TestApp } from "../helpers/app.js";
import { listenOnLoopback, type Listening } from "../helpers/listen.js";

let t: TestApp;
let listening: Listening | undefined;
afterEach(async () => {
  await listening?.close(); // closing one already closed answers at once
  await t?.close();
});

const LOCAL = /^http:\/\/(?:127\.0\.0\.1|\[::1\]):\d+\/scim\/v2\//;

describe("Host header and links", () => {
  it("without publicUrl, Host: evil.test is not reflected into Location, meta.location or $ref", async () => {
    t = await testApp({ server: { publicUrl: undefined } });
    const created = await t.http.post("/scim/v2/Users").set(t.auth).set("Host", "evil.test").send(user("alice"));
    expect(created.status).toBe(201);
    expect(created.headers.location).toMatch(LOCAL);
    expect(created.body.meta.location).toMatch(LOCAL);
    const g = await t.http.post("/scim/v2/Groups").set(t.auth).set("Host", "evil.test").send(group("g", [created.body.id]));
    expect(g.body.members[0].$ref).toMatch(LOCAL);
    const listed = await t.http.get("/scim/v2/Users").set(t.auth).set("Host", "evil.test:443");
    expect(JSON.stringify(listed.body)).not.toContain("evil.test");
  });

  it("a configured host name (any port) and localhost over loopback are used as sent", async () => {
    t = await testApp({ server: { publicUrl: undefined, hostNames: ["scim.example.com"] } });
    const a = await t.http.post("/scim/v2/Users").set(t.auth).set("Host", "SCIM.example.com:8443").send(user("a"));
    expect(a.headers.location).toMatch(/^http:\/\/SCIM\.example\.com:8443\/scim\/v2\/Users\//);
    const b = await t.http.post("/scim/v2/Users").set(t.auth).set("Host", "localhost:8080").send(user("b"));
    expect(b.body.meta.location).toMatch(/^http:\/\/localhost:8080\/scim\/v2\/Users\//);
  });

  it("publicUrl wins over any Host", async () => {
    t = await testApp();
    const a = await t.http.post("/scim/v2/Users").set(t.auth).set("Host", "evil.test").send(user("a"));
    expect(a.headers.location).toMatch(/^https:\/\/scim\.example\.test\/scim\/v2\/Users\//);
  });

  it("two Host headers: 400 with a SCIM error", async () => {
    t = await testApp({ server: { publicUrl: undefined } });
    listening = await listenOnLoopback(t.app);
    const { port } = listening;
    const response = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => {
        socket.end(`GET /scim/v2/Users HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nHost: evil.test\r\nAuthorization: Bearer ${t.token}\r\nConnection: close\r\n\r\n`);
      });
      let text = "";
      socket.on("data", (c: Buffer) => (text += c.toString()));
      socket.on("end", () => resolve(text));
      socket.on("error", reject);
    });
    expect(response).toMatch(/^HTTP\/1\.1 400 /);
    expect(response).toContain('"status":"400"');
    expect(response).not.toContain("evil.test");
  });
});
