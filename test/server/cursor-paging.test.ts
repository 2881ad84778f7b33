/**
 * RFC 9865 cursor paging over HTTP against a real app and SQLite file: the pages, the cursors
 * around them, the errors for cursors that cannot continue, /ServiceProviderConfig's pagination,
 * and a model test: paging while users are inserted, renamed and deleted returns every unchanged
 * user exactly once.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GROUP_SCHEMA, testApp, user, type TestApp } from "../helpers/app.js";

const SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
let t: TestApp;
let clock = Date.parse("2026-01-01T00:00:00Z");

interface Page {
  status: number;
  body: { totalResults: number; itemsPerPage: number; startIndex?: number; nextCursor?: string; previousCursor?: string; Resources: { id: string; userName?: string; displayName?: string }[]; scimType?: string; detail?: string };
}

const list = async (query: Record<string, string | number>, path = "/scim/v2/Users"): Promise<Page> => {
  const res = await t.http.get(path).query(query).set(t.auth);
  return { status: res.status, body: res.body as Page["body"] };
};

const create = async (userName: string, displayName?: string) => {
  const res = await t.http.post("/scim/v2/Users").set(t.auth).send(user(userName, displayName === undefined ? {} : { displayName }));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
};

/** Every page of a query by following nextCursor (bounded), as lists of userNames. */
async function walk(query: Record<string, string | number>, path?: string): Promise<{ pages: string[][]; last: Page }> {
  const pages: string[][] = [];
  let page = await list({ ...query, cursor: "" }, path);
  for (let i = 0; i < 500; i++) {
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    pages.push(page.body.Resources.map((r) => r.userName ?? `group:${r.displayName}`));
    if (page.body.nextCursor === undefined) return { pages, last: page };
    page = await list({ ...query, cursor: page.body.nextCursor }, path);
  }
  throw new Error("more than 500 pages");
}

beforeAll(async () => {
  t = await testApp({}, { now: () => new Date(clock) });
  // Ten users; every third has no displayName (a NULL sort key); pairs share a created time (ties).
  for (let i = 0; i < 10; i++) {
    await create(`cp${String(i).padStart(2, "0")}`, i % 3 === 0 ? undefined : `Name ${9 - i}`);
    if (i % 2) clock += 1000;
  }
});
afterAll(() => t?.close());

describe("cursor pages", () => {
  const filter = 'userName sw "cp"';

  it("the first page has a nextCursor and no previousCursor; the last has no nextCursor; no startIndex", async () => {
    const first = await list({ filter, cursor: "", count: 4 });
    expect(first.status).toBe(200);
    expect(first.body.totalResults).toBe(10);
    expect(first.body.itemsPerPage).toBe(4);
    expect(first.body.startIndex).toBeUndefined();
    expect(first.body.previousCursor).toBeUndefined();
    expect(first.body.nextCursor).toMatch(/^[A-Za-z0-9._~-]+$/); // RFC 3986 §2.3 unreserved
    const { pages, last } = await walk({ filter, count: 4 });
    expect(pages.map((p) => p.length)).toEqual([4, 4, 2]);
    expect(last.body.nextCursor).toBeUndefined();
    expect(last.body.previousCursor).toBeDefined();
  });

  it.each([
    ["no sortBy", {}],
    ["userName", { sortBy: "userName" }],
    ["userName descending", { sortBy: "userName", sortOrder: "descending" }],
    ["displayName (NULLs first)", { sortBy: "displayName" }],
    ["displayName descending", { sortBy: "displayName", sortOrder: "descending" }],
    ["meta.created (ties)", { sortBy: "meta.created" }],
    ["meta.created descending", { sortBy: "meta.created", sortOrder: "descending" }],
    ["meta.lastModified", { sortBy: "meta.lastModified" }],
  ])("in the order index paging gives: %s", async (_, sort) => {
    const index = await list({ filter, ...sort, count: 100 });
    const { pages } = await walk({ filter, ...sort, count: 3 });
    expect(pages.flat()).toEqual(index.body.Resources.map((r) => r.userName));
  });

  it("previousCursor walks back through the same pages", async () => {
    const sort = { sortBy: "displayName", sortOrder: "descending" };
    const { pages, last } = await walk({ filter, ...sort, count: 3 });
    const back: string[][] = [];
    let page = last;
    while (page.body.previousCursor !== undefined && back.length < 20) {
      page = await list({ filter, ...sort, count: 3, cursor: page.body.previousCursor });
      expect(page.status).toBe(200);
      back.unshift(page.body.Resources.map((r) => r.userName!));
    }
    expect(back).toEqual(pages.slice(0, -1));
    // The first page, reached backwards, has no previousCursor and leads forward again.
    expect(page.body.previousCursor).toBeUndefined();
    const again = await list({ filter, ...sort, count: 3, cursor: page.body.nextCursor! });
    expect(again.body.Resources.map((r) => r.userName)).toEqual(pages[1]);
  });

  it("POST /Users/.search takes cursor in the SearchRequest (RFC 9865 §3)", async () => {
    const first = await t.http.post("/scim/v2/Users/.search").set(t.auth).send({ schemas: [SEARCH], filter, sortBy: "userName", cursor: "", count: 6 });
    expect(first.status).toBe(200);
    const second = await t.http.post("/scim/v2/Users/.search").set(t.auth).send({ schemas: [SEARCH], filter, sortBy: "userName", cursor: first.body.nextCursor, count: 6 });
    expect([...first.body.Resources, ...second.body.Resources].map((r: { userName: string }) => r.userName)).toEqual((await list({ filter, sortBy: "userName" })).body.Resources.map((r) => r.userName));
    expect(second.body.nextCursor).toBeUndefined();
  });

  it("the root /.search pages on from Users into Groups", async () => {
    const g = await t.http.post("/scim/v2/Groups").set(t.auth).send({ schemas: [GROUP_SCHEMA], displayName: "cp-group" });
    expect(g.status).toBe(201);
    // An attribute both types have: each type answers it (RFC 7644 §3.4.3).
    const body = (cursor: string) => ({ schemas: [SEARCH], filter: 'displayName sw "Name" or displayName eq "cp-group"', cursor, count: 3 });
    const seen: string[] = [];
    let res = await t.http.post("/scim/v2/.search").set(t.auth).send(body(""));
    for (let i = 0; i < 10; i++) {
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.totalResults).toBe(7);
      seen.push(...res.body.Resources.map((r: { userName?: string; displayName: string }) => r.userName ?? r.displayName));
      if (!res.body.nextCursor) break;
      res = await t.http.post("/scim/v2/.search").set(t.auth).send(body(res.body.nextCursor));
    }
    expect(seen).toEqual(["cp01", "cp02", "cp04", "cp05", "cp07", "cp08", "cp-group"]);
    // And back from the last page (the group alone) across into Users, to the first page.
    const back: string[] = [];
    for (let i = 0; i < 10 && res.body.previousCursor; i++) {
      res = await t.http.post("/scim/v2/.search").set(t.auth).send(body(res.body.previousCursor));
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      back.unshift(...res.body.Resources.map((r: { userName?: string; displayName: string }) => r.userName ?? r.displayName));
    }
    expect(back).toEqual(seen.slice(0, 6));
    expect(res.body.previousCursor).toBeUndefined();
  });

  it("count=0 answers totalResults only, without cursors", async () => {
    const r = await list({ filter, cursor: "", count: 0 });
    expect(r.body).toMatchObject({ totalResults: 10, itemsPerPage: 0, Resources: [] });
    expect(r.body.nextCursor).toBeUndefined();
    // RFC 9865 §2 Table 1: a negative count is 0 with cursor paging.
    expect((await list({ filter, cursor: "", count: -1 })).body.itemsPerPage).toBe(0);
  });

  it("startIndex keeps index paging (the default, RFC 9865 §2.4)", async () => {
    const r = await list({ filter, sortBy: "userName", startIndex: 9, count: 5 });
    expect(r.body.startIndex).toBe(9);
    expect(r.body.Resources.map((x) => x.userName)).toEqual(["cp08", "cp09"]);
    expect(r.body.nextCursor).toBeUndefined();
  });
});

describe("cursors that cannot continue (RFC 9865 §2.1)", () => {
  const filter = 'userName sw "cp"';
  let cursor: string;
  beforeAll(async () => {
    cursor = (await list({ filter, sortBy: "userName", cursor: "", count: 3 })).body.nextCursor!;
  });
  const refused = async (query: Record<string, string | number>, scimType: string, path?: string) => {
    const r = await list(query, path);
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(r.body.scimType).toBe(scimType);
    expect(r.body.detail).toBeTruthy();
  };

  it("the same query continues", async () => {
    expect((await list({ filter, sortBy: "userName", cursor, count: 3 })).status).toBe(200);
  });

  it("a cursor for another filter, sort, order or endpoint is invalidCursor", async () => {
    await refused({ filter: 'userName sw "cp0"', sortBy: "userName", cursor, count: 3 }, "invalidCursor");
    await refused({ filter, sortBy: "displayName", cursor, count: 3 }, "invalidCursor");
    await refused({ filter, sortBy: "userName", sortOrder: "descending", cursor, count: 3 }, "invalidCursor");
    const users = (await list({ cursor: "", count: 3 })).body.nextCursor!;
    await refused({ cursor: users, count: 3 }, "invalidCursor", "/scim/v2/Groups");
  });

  it("an altered or made-up cursor is invalidCursor", async () => {
    const [body, mac] = cursor.split(".") as [string, string];
    const flipped = (s: string, i: number) => s.slice(0, i) + (s[i] === "A" ? "B" : "A") + s.slice(i + 1);
    await refused({ filter, sortBy: "userName", cursor: `${flipped(body, 5)}.${mac}`, count: 3 }, "invalidCursor");
    await refused({ filter, sortBy: "userName", cursor: `${body}.${flipped(mac, 2)}`, count: 3 }, "invalidCursor");
    await refused({ filter, sortBy: "userName", cursor: body, count: 3 }, "invalidCursor");
    await refused({ filter, sortBy: "userName", cursor: "VZUTiyhEQJ94IR", count: 3 }, "invalidCursor");
    await refused({ filter, sortBy: "userName", cursor: "not a cursor!", count: 3 }, "invalidCursor");
  });

  it("another count is invalidCount; startIndex with a cursor is invalidValue", async () => {
    await refused({ filter, sortBy: "userName", cursor, count: 4 }, "invalidCount");
    await refused({ filter, sortBy: "userName", cursor, count: 3, startIndex: 4 }, "invalidValue");
  });

  it("after pagination.cursorTimeout a cursor is expiredCursor", async () => {
    const timeout = ((await t.http.get("/scim/v2/ServiceProviderConfig").set(t.auth)).body.pagination as { cursorTimeout: number }).cursorTimeout;
    const issued = clock;
    try {
      clock = issued + timeout * 1000;
      expect((await list({ filter, sortBy: "userName", cursor, count: 3 })).status).toBe(200); // still valid at the bound
      clock = issued + (timeout + 1) * 1000;
      await refused({ filter, sortBy: "userName", cursor, count: 3 }, "expiredCursor");
    } finally {
      clock = issued;
    }
  });
});

describe("/ServiceProviderConfig", () => {
  it("advertises cursor and index paging as served (RFC 9865 §4)", async () => {
    const spc = await t.http.get("/scim/v2/ServiceProviderConfig").set(t.auth);
    expect(spc.body.pagination).toEqual({
      cursor: true,
      index: true,
      defaultPaginationMethod: "index",
      defaultPageSize: t.config.scim.defaultPageSize,
      maxPageSize: t.config.scim.maxPageSize,
      cursorTimeout: expect.any(Number) as number,
    });
    // What it advertises is served: a list without a paging parameter is index paging.
    const plain = await list({ count: 2 });
    expect(plain.body.startIndex).toBe(1);
    expect(plain.body.nextCursor).toBeUndefined();
  });
});

describe("model: paging while users change", () => {
  type Op = { kind: "insert"; name: number } | { kind: "delete"; pick: number } | { kind: "rename"; pick: number; name: number };
  const SORTS: Record<string, string>[] = [{}, { sortBy: "userName" }, { sortBy: "userName", sortOrder: "descending" }, { sortBy: "displayName" }, { sortBy: "displayName", sortOrder: "descending" }, { sortBy: "meta.created" }, { sortBy: "meta.lastModified", sortOrder: "descending" }];
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant("insert" as const), name: fc.nat(999) }),
    fc.record({ kind: fc.constant("delete" as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant("rename" as const), pick: fc.nat(), name: fc.nat(999) }),
  );
  let run = 0;

  it("every user unchanged from the first page to the last is returned exactly once", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.option(fc.nat(999), { nil: undefined }), { minLength: 0, maxLength: 20 }),
        fc.integer({ min: 0, max: SORTS.length - 1 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.array(op, { maxLength: 3 }), { maxLength: 12 }),
        async (initial, sortIndex, count, between) => {
          const prefix = `m${run++}-`;
          const name = (n: number, salt: number) => `${prefix}${String(n).padStart(3, "0")}-${salt}`;
          const live = new Map<string, string>(); // id -> userName
          let salt = 0;
          for (const d of initial) {
            const userName = name(d ?? 0, salt++);
            live.set(await create(userName, d === undefined ? undefined : `D ${d % 7}`), userName);
            if (salt % 3 === 0) clock += 1000;
          }
          const unchanged = new Set(live.keys());
          const query = { filter: `userName sw "${prefix}"`, ...SORTS[sortIndex]!, count };
          const seen = new Map<string, number>();
          let page = await list({ ...query, cursor: "" });
          for (let i = 0; i < 200; i++) {
            expect(page.status, JSON.stringify(page.body)).toBe(200);
            for (const r of page.body.Resources) seen.set(r.id, (seen.get(r.id) ?? 0) + 1);
            if (page.body.nextCursor === undefined) break;
            for (const o of between[i] ?? []) {
              const ids = [...live.keys()];
              clock += 500;
              if (o.kind === "insert") {
                const userName = name(o.name, salt++);
                live.set(await create(userName, o.name % 2 ? `D ${o.name % 7}` : undefined), userName);
              } else if (ids.length > 0) {
                const id = ids[o.pick % ids.length]!;
                unchanged.delete(id);
                if (o.kind === "delete") {
                  expect((await t.http.delete(`/scim/v2/Users/${id}`).set(t.auth)).status).toBe(204);
                  live.delete(id);
                } else {
                  const res = await t.http.put(`/scim/v2/Users/${id}`).set(t.auth).send(user(name(o.name, salt++), { displayName: `R ${o.name}` }));
                  expect(res.status).toBe(200);
                }
              }
            }
            page = await list({ ...query, cursor: page.body.nextCursor });
          }
          expect(page.body.nextCursor).toBeUndefined();
          for (const id of unchanged) expect(seen.get(id), `unchanged user ${live.get(id)}`).toBe(1);
          // Nothing is returned twice unless it changed while the pages were read.
          for (const [id, n] of seen) if (n > 1) expect(unchanged.has(id)).toBe(false);
        },
      ),
      { numRuns: 40 },
    );
  }, 120_000);
});
