/**
 * Bounded work per request (schemas/limits.ts): each limit refused with the RFC status and a SCIM
 * Error naming the config key, and the cases hardening found: a startIndex past 2^63 (was 500), a
 * body that is not UTF-8 (was stored with U+FFFD), a 5,000-character userName (was 201, then a
 * failed delivery), and a PATCH of thousands of operations (was quadratic: 4,000 took 18.5 s).
 */
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { PATCH_OP, testApp, user, type TestApp } from "../helpers/app.js";

const ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error";
let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});
const users = async (app: TestApp) => (await app.sql.one<{ n: number }>("SELECT count(*) AS n FROM users"))!.n;
/**
 * The most CPU time one turn of the event loop took while `fn` ran: a setImmediate chain reads
 * process.cpuUsage() once per loop iteration, so a stretch that holds the loop shows as one step.
 * CPU time, not wall time: the suite's other workers share the machine, and a descheduled process
 * would look blocked. On SQLite a PATCH is one turn (its statements are synchronous); on
 * PostgreSQL the loop turns at each statement's round trip, and the request's total CPU, which
 * includes encoding and parsing every statement, would overstate how long any one turn holds it.
 */
async function longestTurnMs(fn: () => Promise<unknown>): Promise<number> {
  let longest = 0;
  let last = process.cpuUsage();
  let running = true;
  const tick = () => {
    const step = process.cpuUsage(last);
    longest = Math.max(longest, (step.user + step.system) / 1000);
    last = process.cpuUsage();
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  try {
    await fn();
  } finally {
    running = false;
  }
  tick();
  return longest;
}
const scimError = (status: number, scimType: string | undefined, detail: RegExp) => ({
  schemas: [ERROR_SCHEMA],
  status: String(status),
  ...(scimType ? { scimType } : {}),
  detail: expect.stringMatching(detail),
});

describe("startIndex and count (RFC 7644 §3.4.2.4)", () => {
  it.each(["9223372036854775808", "18446744073709551616", "9007199254740993", "1e300"])("startIndex=%s is 400 invalidValue, not 500", async (v) => {
    const app = (t = await testApp());
    const res = await app.http.get(`/scim/v2/Users?startIndex=${v}`).set(app.auth);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject(scimError(400, "invalidValue", /startIndex/));
  });

  it("a SearchRequest with startIndex 2^63 is 400 too; the largest safe integer is answered", async () => {
    const app = (t = await testApp());
    const big = await app.http.post("/scim/v2/Users/.search").set(app.auth).send({ schemas: ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], startIndex: 2 ** 63 });
    expect(big.status).toBe(400);
    const ok = await app.http.get(`/scim/v2/Users?startIndex=${Number.MAX_SAFE_INTEGER}&count=${Number.MAX_SAFE_INTEGER}`).set(app.auth);
    expect(ok.status).toBe(200);
  });
});

describe("a body that is not UTF-8 (RFC 8259 §8.1, RFC 3629)", () => {
  // "userName":"b<C3 28>d": 0xC3 starts a two-byte sequence that 0x28 cannot continue.
  const bad = Buffer.concat([Buffer.from(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"b`), Buffer.from([0xc3, 0x28]), Buffer.from(`d"}`)]);

  /** The bytes as they are: superagent would serialise a Buffer under a JSON content type. */
  const raw = (app: TestApp, body: Buffer, headers: Record<string, string>) =>
    app.http.post("/scim/v2/Users").set(app.auth).set(headers).serialize((b: unknown) => b as string).send(body as unknown as string);

  it("is 400 invalidSyntax and nothing is stored (was: U+FFFD stored and sent to LDAP)", async () => {
    const app = (t = await testApp());
    const res = await raw(app, bad, { "Content-Type": "application/scim+json" });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject(scimError(400, "invalidSyntax", /UTF-8/));
    expect(await users(app)).toBe(0);
  });

  it("gzip-encoded too, and a lone surrogate's bytes (ED A0 80) and an overlong slash (C0 AF) alike", async () => {
    const app = (t = await testApp());
    const gz = await raw(app, gzipSync(bad), { "Content-Type": "application/scim+json", "Content-Encoding": "gzip" });
    expect(gz.status).toBe(400);
    expect(gz.body).toMatchObject(scimError(400, "invalidSyntax", /UTF-8/));
    for (const bytes of [[0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xff]]) {
      const body = Buffer.concat([Buffer.from(`{"userName":"x`), Buffer.from(bytes), Buffer.from(`"}`)]);
      const res = await raw(app, body, { "Content-Type": "application/json" });
      expect(res.status).toBe(400);
    }
    expect(await users(app)).toBe(0);
    // Valid multi-byte UTF-8 (and a BOM) is still accepted.
    const ok = await raw(app, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(user("Ærøskøbing-日本")))]), { "Content-Type": "application/scim+json" });
    expect(ok.status).toBe(201);
  });
});

describe("attribute limits", () => {
  it("a 5,000-character userName is 400 invalidValue naming userName and its key (was 201, then 'Code: 0x50')", async () => {
    const app = (t = await testApp());
    const res = await app.http.post("/scim/v2/Users").set(app.auth).send(user("u".repeat(5000)));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject(scimError(400, "invalidValue", /userName is 5000 characters; the limit is 256 \(scim\.limits\.attributeLength\.userName\)/));
    expect(await users(app)).toBe(0);
    // PUT and PATCH are held to the same limits.
    const id = ((await app.http.post("/scim/v2/Users").set(app.auth).send(user("short"))).body as { id: string }).id;
    const patch = await app.http.patch(`/scim/v2/Users/${id}`).set(app.auth).send({ schemas: [PATCH_OP], Operations: [{ op: "replace", path: "userName", value: "u".repeat(257) }] });
    expect(patch.status).toBe(400);
    expect(patch.body).toMatchObject(scimError(400, "invalidValue", /userName/));
    const put = await app.http.put(`/scim/v2/Users/${id}`).set(app.auth).send(user("short", { title: "t".repeat(5000) }));
    expect(put.status).toBe(400);
    expect(put.body).toMatchObject(scimError(400, "invalidValue", /title is 5000 characters; the limit is 4096 \(scim\.limits\.stringLength\)/));
  });

  it("limits are configurable: attributeLength per attribute, attributeValues per multi-valued attribute", async () => {
    const app = (t = await testApp({ scim: { limits: { attributeLength: { userName: 6000 }, attributeValues: 3 } } }));
    expect((await app.http.post("/scim/v2/Users").set(app.auth).send(user("u".repeat(5000), { emails: [{ value: "u@example.com" }] }))).status).toBe(201);
    const emails = Array.from({ length: 4 }, (_, i) => ({ value: `e${i}@example.com` }));
    const res = await app.http.post("/scim/v2/Users").set(app.auth).send(user("many", { emails }));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject(scimError(400, "invalidValue", /emails has 4 values; the limit is 3 \(scim\.limits\.attributeValues\)/));
  });

  it("attributes / excludedAttributes past scim.limits.attributeNames are 400 invalidValue", async () => {
    const app = (t = await testApp({ scim: { limits: { attributeNames: 5 } } }));
    const names = Array.from({ length: 6 }, (_, i) => `a${i}`).join(",");
    for (const q of [`attributes=${names}`, `excludedAttributes=${names}`]) {
      const res = await app.http.get(`/scim/v2/Users?${q}`).set(app.auth);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject(scimError(400, "invalidValue", /scim\.limits\.attributeNames/));
    }
  });
});

describe("filter limits", () => {
  it("a filter over scim.limits.filterLength, or nested past filterDepth, is 400 invalidFilter naming the key", async () => {
    const app = (t = await testApp({ scim: { limits: { filterLength: 100, filterDepth: 4 } } }));
    const long = await app.http.get("/scim/v2/Users").query({ filter: `userName eq "${"a".repeat(100)}"` }).set(app.auth);
    expect(long.status).toBe(400);
    expect(long.body).toMatchObject(scimError(400, "invalidFilter", /scim\.limits\.filterLength/));
    const deep = await app.http.get("/scim/v2/Users").query({ filter: `${"(".repeat(5)}userName eq "a"${")".repeat(5)}` }).set(app.auth);
    expect(deep.status).toBe(400);
    expect(deep.body).toMatchObject(scimError(400, "invalidFilter", /scim\.limits\.filterDepth/));
    const search = await app.http.post("/scim/v2/.search").set(app.auth).send({ filter: `${"not (".repeat(5)}userName pr${")".repeat(5)}` });
    expect(search.status).toBe(400);
    expect(search.body).toMatchObject(scimError(400, "invalidFilter", /filterDepth/));
  });
});

describe("PATCH operations (RFC 7644 §3.5.2)", () => {
  const addEmails = (n: number, tag = "") => Array.from({ length: n }, (_, i) => ({ op: "add", path: "emails", value: [{ value: `${tag}e${i}@example.com`, type: "work" }] }));

  it("more than scim.limits.patchOperations is 413 naming the key, refused at once; /ServiceProviderConfig advertises it", async () => {
    const app = (t = await testApp());
    const id = ((await app.http.post("/scim/v2/Users").set(app.auth).send(user("p"))).body as { id: string }).id;
    const t0 = performance.now();
    const res = await app.http.patch(`/scim/v2/Users/${id}`).set(app.auth).send({ schemas: [PATCH_OP], Operations: addEmails(10_000) });
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject(scimError(413, undefined, /10000 operations; the limit is 1000 \(scim\.limits\.patchOperations\)/));
    const spc = await app.http.get("/scim/v2/ServiceProviderConfig").set(app.auth);
    expect(spc.body).toMatchObject({ patch: { supported: true, maxOperations: 1000 } });
  });

  it("applied in linear time: 4,000 add operations take well under 2 s (was 18.5 s), the event loop is never held long", async () => {
    const app = (t = await testApp({ scim: { limits: { patchOperations: 4000, attributeValues: 5000 } } }));
    const id = ((await app.http.post("/scim/v2/Users").set(app.auth).send(user("p"))).body as { id: string }).id;
    const t0 = performance.now();
    const res = await app.http.patch(`/scim/v2/Users/${id}`).set(app.auth).send({ schemas: [PATCH_OP], Operations: addEmails(4000) });
    const ms = performance.now() - t0;
    expect(res.body).not.toHaveProperty("detail");
    expect(res.status).toBe(200);
    expect((res.body as { emails: unknown[] }).emails).toHaveLength(4001);
    expect(ms).toBeLessThan(2000);

    // At the default limit, one PATCH holds the event loop for well under the bound the fuzz
    // suite states (EVENT_LOOP_BOUND_MS there).
    const app2 = await testApp({ scim: { limits: { attributeValues: 5000 } } });
    try {
      const id2 = ((await app2.http.post("/scim/v2/Users").set(app2.auth).send(user("q"))).body as { id: string }).id;
      await app2.http.patch(`/scim/v2/Users/${id2}`).set(app2.auth).send({ schemas: [PATCH_OP], Operations: addEmails(1000, "warm") });
      let status = 0;
      const held = await longestTurnMs(async () => {
        status = (await app2.http.patch(`/scim/v2/Users/${id2}`).set(app2.auth).send({ schemas: [PATCH_OP], Operations: addEmails(1000) })).status;
      });
      expect(status).toBe(200);
      expect(held).toBeLessThan(150);
    } finally {
      await app2.close();
    }
  });
});

describe("request shape", () => {
  it("a body nested past scim.limits.jsonDepth is 400 invalidSyntax naming the key, not a stack overflow", async () => {
    const app = (t = await testApp());
    const deep = `{"schemas":["${PATCH_OP}"],"Operations":[{"op":"add","path":"emails","value":${"[".repeat(200_000)}${"]".repeat(200_000)}}]}`;
    const id = ((await app.http.post("/scim/v2/Users").set(app.auth).send(user("deep"))).body as { id: string }).id;
    const res = await app.http.patch(`/scim/v2/Users/${id}`).set(app.auth).set("Content-Type", "application/scim+json").send(deep);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject(scimError(400, "invalidSyntax", /deeper than 64 levels \(scim\.limits\.jsonDepth\)/));
  });

  it("a path that is not percent-encoded UTF-8 is 400 with a SCIM error, not 500", async () => {
    const app = (t = await testApp());
    const res = await app.http.get("/scim/v2/Users/%E0%A4%A").set(app.auth);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject(scimError(400, undefined, /percent-encoded/));
  });

  it("a Bulk request of many writes yields to the event loop between operations (RFC 7644 §3.7)", async () => {
    const app = (t = await testApp());
    const Operations = Array.from({ length: 600 }, (_, i) => ({ method: "POST", path: "/Users", bulkId: `b${i}`, data: user(`bulk${i}`) }));
    // /healthz, asked while the Bulk request runs, is answered before the Bulk request ends.
    const order: string[] = [];
    const bulk = app.http.post("/scim/v2/Bulk").set(app.auth).send({ schemas: ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], Operations }).then((r) => {
      order.push("bulk");
      return r;
    });
    const probe = new Promise((r) => setTimeout(r, 30)).then(() => app.http.get("/healthz")).then((r) => {
      order.push("healthz");
      return r;
    });
    const [res, health] = await Promise.all([bulk, probe]);
    expect(res.status).toBe(200);
    expect(health.status).toBe(200);
    expect(await users(app)).toBe(600);
    expect(order).toEqual(["healthz", "bulk"]);
  });
});

describe("discovery endpoints", () => {
  it("an attributes list naming something that is not an attribute path is 400, not scimmy's 500", async () => {
    const app = (t = await testApp());
    const res = await app.http.get("/scim/v2/ServiceProviderConfig?attributes=-9223372036854775809").set(app.auth);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject(scimError(400, "invalidValue", /not an attribute path/));
    expect((await app.http.get("/scim/v2/Schemas?attributes=id,name").set(app.auth)).status).toBe(200);
    expect((await app.http.get("/scim/v2/ResourceTypes/User?excludedAttributes=,name").set(app.auth)).status).toBe(400);
    expect((await app.http.get("/scim/v2/ResourceTypes/User?excludedAttributes=").set(app.auth)).status).toBeLessThan(500);
    const filtered = await app.http.get("/scim/v2/ServiceProviderConfig?filter=userName").set(app.auth);
    expect(filtered.status).toBe(400);
    expect(filtered.body).toMatchObject(scimError(400, "invalidFilter", /./));
  });
});

describe("sort limit", () => {
  it("sorting more than scim.limits.sortResources matches by an attribute no index orders is 400 tooMany; userName (indexed), a narrower filter and count=0 are not", async () => {
    const app = (t = await testApp({ scim: { limits: { sortResources: 3 } } }));
    for (let i = 0; i < 5; i++) expect((await app.http.post("/scim/v2/Users").set(app.auth).send(user(`sorted-${i}`, { title: `T${5 - i}` }))).status).toBe(201);
    const wide = await app.http.get("/scim/v2/Users").query({ sortBy: "title" }).set(app.auth);
    expect(wide.status).toBe(400);
    expect(wide.body).toMatchObject(scimError(400, "tooMany", /scim\.limits\.sortResources/));
    const indexed = await app.http.get("/scim/v2/Users").query({ sortBy: "userName" }).set(app.auth);
    expect(indexed.status).toBe(200);
    expect(indexed.body.Resources.map((r: { userName: string }) => r.userName)).toEqual(["sorted-0", "sorted-1", "sorted-2", "sorted-3", "sorted-4"]);
    const narrow = await app.http.get("/scim/v2/Users").query({ sortBy: "title", filter: 'userName sw "sorted-3" or userName sw "sorted-4"' }).set(app.auth);
    expect(narrow.status).toBe(200);
    expect(narrow.body.Resources.map((r: { title: string }) => r.title)).toEqual(["T1", "T2"]);
    const countOnly = await app.http.get("/scim/v2/Users").query({ sortBy: "title", count: 0 }).set(app.auth);
    expect(countOnly.status).toBe(200);
    expect(countOnly.body.totalResults).toBe(5);
  });
});
