/**
 * A full disk and a read-only mount under the database, for real: the test mounts a small tmpfs
 * (root needed; CI runs as root), puts the SQLite file on it, streams SCIM writes while a filler
 * file takes the remaining space, then frees it. Writes must answer 503 + Retry-After with a SCIM
 * Error body (RFC 7644 §3.12), reads keep working, /readyz is unready with the reason, the audit
 * log's background flush must not end the process, and everything acknowledged is still there
 * after recovery and after reopening the file.
 */
import { join } from "node:path";
import supertest from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore, type SqliteStore } from "../../db/open.js";
import { createApp, type App } from "../../server/app.js";
import { parseConfig } from "../../server/config/load.js";
import { createLogger } from "../../server/logger.js";
import { mountTmpfs, type Tmpfs } from "../harness/tmpfs.js";
import { user } from "../helpers/app.js";

const ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error";
const MOUNT_SIZE = "8m";

let disk: Tmpfs | undefined;
let store: SqliteStore | undefined;

beforeAll(() => {
  disk = mountTmpfs(MOUNT_SIZE);
});

afterAll(async () => {
  await store?.close();
  disk?.unmount();
});

async function app(file: string): Promise<{ a: App; http: ReturnType<typeof supertest>; auth: { Authorization: string } }> {
  const config = parseConfig({ storage: { file }, logging: { level: "silent" }, server: { publicUrl: "https://scim.example.test/scim/v2" } }, {});
  store = openStore(file);
  const a = createApp({ config, store, logger: createLogger("silent") });
  const token = await a.tokens.create("full-disk");
  return { a, http: supertest(a.app), auth: { Authorization: `Bearer ${token}` } };
}

describe("the database on a full disk", () => {
  it("writes answer 503 + Retry-After, reads and /readyz keep answering, and it recovers when space returns", async () => {
    const file = join(disk!.dir, "scim.db");
    const { a, http, auth } = await app(file);
    const acknowledged: string[] = [];
    const post = async (name: string) => {
      const res = await http.post("/scim/v2/Users").set(auth).send(user(name));
      if (res.status === 201) acknowledged.push((res.body as { id: string }).id);
      return res;
    };
    for (let i = 0; i < 20; i++) expect((await post(`before${i}`)).status).toBe(201);

    let refused: supertest.Response | undefined;
    // Writes stream in while the disk fills: the filler takes what is left, then a few more
    // writes grow the WAL until SQLite gets ENOSPC.
    for (let i = 0; i < 400 && !refused; i++) {
      if (i === 5) disk!.fill();
      const res = await post(`during${i}`);
      expect([201, 503]).toContain(res.status);
      if (res.status === 503) refused = res;
      if (i > 5 && i % 20 === 0) disk!.fill();
    }
    expect(refused, "no write was refused: the disk never filled").toBeDefined();
    expect(refused!.headers["retry-after"]).toMatch(/^\d+$/);
    expect(refused!.body).toMatchObject({ schemas: [ERROR_SCHEMA], status: "503", detail: expect.stringMatching(/cannot store changes/) });

    // The audit rows of these requests are flushed in the background after each turn: that flush
    // fails too and must not end the process (before: an uncaught SQLITE_FULL).
    await new Promise((r) => setTimeout(r, 50));
    expect((await post("still-full")).status).toBe(503);

    const list = await http.get("/scim/v2/Users?count=1").set(auth);
    expect(list.status).toBe(200);
    expect((list.body as { totalResults: number }).totalResults).toBe(acknowledged.length);
    const ready = await http.get("/readyz");
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: "not_ready", database: expect.stringMatching(/SQLITE_(FULL|IOERR)/) });

    // Space returns: readiness and writes come back by themselves.
    disk!.free();
    const again = await http.get("/readyz");
    expect(again.status).toBe(200);
    expect((await post("after")).status).toBe(201);
    // Every acknowledged write is there, now and after the file is reopened.
    for (const id of acknowledged) expect((await http.get(`/scim/v2/Users/${id}`).set(auth)).status).toBe(200);
    await a.audit.flush(); // as serve's stop does
    await store!.close();
    const reopened = (store = openStore(file));
    const n = (reopened.sqlite.prepare("SELECT count(*) AS n FROM users").get() as { n: number }).n;
    expect(n).toBe(acknowledged.length);
    // The audit rows held in memory during the outage went in once space returned.
    const audited = (reopened.sqlite.prepare("SELECT count(*) AS n FROM audit_log WHERE outcome = '503'").get() as { n: number }).n;
    expect(audited).toBeGreaterThan(0);
  });

  it("a read-only database (query_only, SQLITE_READONLY): writes answer 503, reads work, writes resume", async () => {
    await store?.close();
    const file = join(disk!.dir, "ro.db");
    const { http, auth } = await app(file);
    const id = ((await http.post("/scim/v2/Users").set(auth).send(user("ro"))).body as { id: string }).id;
    // A mount cannot be remounted read-only under a file open for writing, so SQLite's own
    // read-only switch stands in (https://www.sqlite.org/pragma.html#pragma_query_only).
    store!.sqlite.pragma("query_only = ON");
    try {
      const res = await http.post("/scim/v2/Users").set(auth).send(user("ro2"));
      expect(res.status).toBe(503);
      expect(res.headers["retry-after"]).toMatch(/^\d+$/);
      expect((await http.get(`/scim/v2/Users/${id}`).set(auth)).status).toBe(200);
      const ready = await http.get("/readyz");
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({ status: "not_ready", database: expect.stringMatching(/SQLITE_READONLY/) });
    } finally {
      store!.sqlite.pragma("query_only = OFF");
    }
    expect((await http.get("/readyz")).status).toBe(200);
    expect((await http.post("/scim/v2/Users").set(auth).send(user("ro2"))).status).toBe(201);
  });
});
