/**
 * JSON request bodies (server/http/json-body.ts): identity-encoded, compressed, chunked and
 * over-limit bodies, invalid UTF-8 and deep nesting, each with its SCIM answer.
 */
import { request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testApp, user } from "../helpers/app.js";

const t = await testApp({ server: { maxBodyBytes: 4096 } });
let server: Server;
beforeAll(async () => {
  server = t.app.listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await t.close();
});

/** A POST with exactly these bytes and headers (supertest would re-encode a Buffer body as JSON). */
const raw = (chunks: Buffer[], headers: Record<string, string>) =>
  new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
    const { port } = server.address() as AddressInfo;
    const req = request({ host: "127.0.0.1", port, method: "POST", path: "/scim/v2/Users", headers: { ...t.auth, "Content-Type": "application/scim+json", ...headers } }, (res) => {
      const got: Buffer[] = [];
      res.on("data", (c: Buffer) => got.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(got).toString() || "{}") as Record<string, unknown> }));
    });
    req.on("error", reject);
    for (const c of chunks.slice(0, -1)) req.write(c);
    req.end(chunks[chunks.length - 1]);
  });
const bytes = (s: string) => Buffer.from(s);

const users = async () => (await t.sql.one<{ n: number }>("select count(*) n from users"))!.n;
const post = (body: string | Buffer, headers: Record<string, string> = {}) => {
  let r = t.http.post("/scim/v2/Users").set(t.auth).set("Content-Type", "application/scim+json");
  for (const [k, v] of Object.entries(headers)) r = r.set(k, v);
  return r.send(body);
};

describe("JSON request bodies", () => {
  it("reads a plain body (Content-Length, no charset)", async () => {
    const res = await post(JSON.stringify(user("jb-plain")));
    expect(res.status).toBe(201);
    expect(res.body.userName).toBe("jb-plain");
  });

  it("reads non-ASCII text, split across writes mid-character", async () => {
    const body = bytes(JSON.stringify(user("jb-zoe", { displayName: "Zoë Ångström 😀" })));
    const cut = body.indexOf(Buffer.from("😀")) + 2;
    const res = await raw([body.subarray(0, cut), body.subarray(cut)], { "Content-Type": "application/scim+json; charset=UTF-8", "Content-Length": String(body.length) });
    expect(res.status).toBe(201);
    expect(res.body.displayName).toBe("Zoë Ångström 😀");
  });

  it("drops a UTF-8 byte order mark", async () => {
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes(JSON.stringify(user("jb-bom")))]);
    const res = await raw([body], { "Content-Length": String(body.length) });
    expect(res.status).toBe(201);
  });

  it("malformed JSON is 400 invalidSyntax, nothing stored", async () => {
    const before = await users();
    const res = await post('{"userName": ');
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ status: "400", scimType: "invalidSyntax" });
    expect(await users()).toBe(before);
  });

  it("over the limit is 413 (body-parser's path)", async () => {
    const res = await post(JSON.stringify(user("jb-big", { displayName: "x".repeat(5000) })));
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ status: "413" });
  });

  it("another charset is 415 (body-parser's path)", async () => {
    const res = await post(JSON.stringify(user("jb-latin")), { "Content-Type": "application/scim+json; charset=iso-8859-1" });
    expect(res.status).toBe(415);
  });

  it("a gzip body is inflated (body-parser's path)", async () => {
    const body = gzipSync(bytes(JSON.stringify(user("jb-gzip"))));
    const res = await raw([body], { "Content-Encoding": "gzip", "Content-Length": String(body.length) });
    expect(res.status).toBe(201);
    expect(res.body.userName).toBe("jb-gzip");
  });

  it("a body that is not the gzip it claims is 400, not 500", async () => {
    const body = bytes(JSON.stringify(user("jb-notgzip")));
    const res = await raw([body], { "Content-Encoding": "gzip", "Content-Length": String(body.length) });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ status: "400", scimType: "invalidSyntax" });
  });

  it("a chunked body without Content-Length is read (body-parser's path)", async () => {
    const body = JSON.stringify(user("jb-chunked"));
    const res = await raw([bytes(body.slice(0, 10)), bytes(body.slice(10))], { "Transfer-Encoding": "chunked" });
    expect(res.status).toBe(201);
  });
});
