/**
 * One behaviour suite run on both storage engines: SQLite on a temp file (openStore) and
 * PostgreSQL on the test harness's server (openPostgresStore). Whatever the rest of the code may
 * ask of the Store (db/store.ts), both answer alike: resources with their emails and key columns,
 * a unique violation recognised by isUniqueViolation, memberships in insertion order with their
 * display, filtered and sorted pages (non-ASCII case folding included), keyset paging in both
 * directions, which sorts need a sort of every row, the scan, tokens, audit, metrics, the
 * migrations count, and the transaction contract: a throw rolls back, a nested transaction rolls
 * back alone, uncommitted writes stay invisible outside, concurrent transactions all commit, and
 * close() lets an open transaction finish.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, DatabaseError } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditEntry } from "../../db/audit.js";
import { isUniqueViolation } from "../../db/constraint-errors.js";
import type { FilterDialect } from "../../db/filter-dialect.js";
import { pgFilterDialect } from "../../db/filter-dialect-pg.js";
import { sqliteFilterDialect } from "../../db/filter-dialect-sqlite.js";
import { compileFilter, compileSortKey } from "../../db/filter-sql.js";
import { openStore } from "../../db/open.js";
import { openPostgresStore, type PostgresEngine } from "../../db/pg/open.js";
import type { KeyedResource, StoredResource } from "../../db/resources.js";
import { storageFaultCode } from "../../db/storage-faults.js";
import type { Store, StoreQueries } from "../../db/store.js";
import { parseFilter } from "../../schemas/filter/parse.js";
import { SchemaRegistry, type ResourceKind } from "../../schemas/registry.js";
import { usePostgres } from "../harness/postgres.js";

const pg = usePostgres();
const registry = new SchemaRegistry([]);
const dir = mkdtempSync(join(tmpdir(), "scimbridge-engines-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
const ENGINES: { name: "sqlite" | "postgres"; dialect: FilterDialect; open(): Promise<Store> }[] = [
  { name: "sqlite", dialect: sqliteFilterDialect, open: async () => openStore(join(dir, `s${++files}.db`)) },
  { name: "postgres", dialect: pgFilterDialect, open: async () => openPostgresStore({ url: await pg.server.createDatabase(), pool: { max: 4 } }) },
];

const T0 = "2026-03-01T00:00:00.000Z";
const user = (id: string, attributes: Record<string, unknown>, at = T0): StoredResource => ({ id, attributes, created: at, lastModified: at, version: 1 });
const group = (id: string, displayName: string): StoredResource => ({ id, attributes: { displayName }, created: T0, lastModified: T0, version: 1 });
const ids = (rows: { id: string }[]) => rows.map((r) => r.id);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The SQLSTATE of a PostgreSQL error, also when drizzle wrapped it (its `cause`). */
const sqlState = (e: unknown): unknown => (e as { cause?: { code?: unknown } }).cause?.code ?? (e as { code?: unknown }).code;

/**
 * A transaction of `s` held open: `before` runs, then `ready` resolves and the transaction waits
 * for `release()`, then `after` runs and it commits (`done`).
 */
function holdOpen<T>(s: Store, before: (tx: StoreQueries) => Promise<T>, after?: (tx: StoreQueries, got: T) => Promise<unknown>) {
  let ready!: () => void;
  let release!: () => void;
  const started = new Promise<void>((r) => (ready = r));
  const released = new Promise<void>((r) => (release = r));
  const done = s.transaction(async (tx) => {
    const got = await before(tx);
    ready();
    await released;
    await after?.(tx, got);
  });
  return { ready: started, release, done };
}

describe.each(ENGINES)("the $name engine", (engine) => {
  let store: Store;
  beforeAll(async () => {
    store = await engine.open();
  }, 60_000);
  afterAll(async () => {
    await store?.close();
  });

  const where = (kind: ResourceKind, filter: string) => compileFilter(registry, kind, parseFilter(filter), engine.dialect);
  const sortKey = (kind: ResourceKind, sortBy: string) => compileSortKey(registry, kind, sortBy, engine.dialect);
  const insert = (kind: ResourceKind, ...rows: StoredResource[]) =>
    store.transaction(async ({ resources }) => {
      for (const r of rows) await resources.insert(kind, r);
    });

  it("reports its engine and a fully migrated database", async () => {
    expect(store.engine).toBe(engine.name);
    const m = await store.migrations();
    expect([m.applied > 0, m.applied]).toEqual([true, m.committed]);
    expect(store.isOpen()).toBe(true);
    // The delivery side's query objects are wired too (test/db/sync-engines.test.ts tests them).
    expect(await store.syncStatus.rowsOf("User", "nobody")).toEqual([]);
  });

  describe("resources", () => {
    it("creates, reads, updates (emails and keys rewritten), touches and deletes", async () => {
      // Emails with nulls, and many of them: each keeps its value, type and primary, in order.
      const attributes = { userName: "crud.Ann", displayName: "Ann", emails: [{ value: "Ann@Example.COM", type: "work", primary: true }, { type: "home" }, ...Array.from({ length: 1500 }, (_, i) => ({ value: `m${i}@example.com` }))], active: true, name: { givenName: "Ann" } };
      await insert("User", user("crud-1", attributes));
      expect(await store.resources.get("User", "crud-1")).toEqual(user("crud-1", attributes));
      expect([await store.resources.exists("User", "crud-1"), await store.resources.exists("User", "nope"), await store.resources.exists("Group", "crud-1")]).toEqual([true, false, false]);
      expect(await store.resources.count("User", where("User", 'emails[value eq "ann@example.com" and type eq "work" and primary eq true] and emails[type eq "home" and not (value pr)] and emails.value eq "m1499@example.com"'))).toBe(1);

      const next = { ...attributes, userName: "crud.Anna", emails: [{ value: "anna@example.org" }], active: false };
      await store.transaction(({ resources }) => resources.update("User", { ...user("crud-1", next), version: 2, lastModified: "2026-03-02T00:00:00.000Z" }));
      expect(await store.resources.get("User", "crud-1")).toMatchObject({ attributes: next, version: 2, lastModified: "2026-03-02T00:00:00.000Z", created: T0 });
      expect(await store.resources.count("User", where("User", 'emails.value eq "ann@example.com"'))).toBe(0);
      expect(await store.resources.count("User", where("User", 'emails.value eq "ANNA@example.org" and userName eq "CRUD.anna" and active eq false'))).toBe(1);

      expect(await store.transaction(({ resources }) => resources.touch("User", "crud-1", "2026-03-03T00:00:00.000Z"))).toBe(3);
      expect(await store.transaction(({ resources }) => resources.touch("User", "nope", "2026-03-03T00:00:00.000Z"))).toBe(0);
      expect((await store.resources.get("User", "crud-1"))?.lastModified).toBe("2026-03-03T00:00:00.000Z");

      await store.transaction(({ resources }) => resources.delete("User", "crud-1"));
      expect(await store.resources.get("User", "crud-1")).toBeUndefined();
      expect(await store.resources.count("User", where("User", 'emails.value eq "anna@example.org"'))).toBe(0);
    });

    it("refuses a second userName or group displayName equal after folding, recognised by isUniqueViolation", async () => {
      await insert("User", user("uniq-1", { userName: "Ünïque.User" }));
      const dup = await insert("User", user("uniq-2", { userName: "üNÏQUE.user" })).catch((e: unknown) => e);
      expect(isUniqueViolation(dup)).toBe(true);
      expect(await store.resources.exists("User", "uniq-2")).toBe(false);
      await insert("Group", group("uniq-g1", "Straße Team"));
      expect(isUniqueViolation(await insert("Group", group("uniq-g2", "STRAßE TEAM")).catch((e: unknown) => e))).toBe(true);
      // Any other error is not one.
      expect(isUniqueViolation(await store.transaction(() => Promise.reject(new Error("other"))).catch((e: unknown) => e))).toBe(false);
    });

    it("keeps members in insertion order with their display, adds and removes idempotently, lists a member's groups", async () => {
      await insert("User", user("m-u1", { userName: "m.one", displayName: "One" }), user("m-u2", { userName: "m.two" }), user("m-u3", { userName: "m.three", displayName: "Three" }));
      await insert("Group", group("m-g1", "Members A"), group("m-g2", "Members B"), group("m-g0", "Nested"));
      expect(await store.resources.resolveMemberTypes(["m-u2", "m-g0", "missing"])).toEqual(new Map([["m-u2", "User"], ["m-g0", "Group"]]));
      expect(await store.resources.resolveMemberTypes(["m-g0"])).toEqual(new Map([["m-g0", "Group"]]));
      const added = await store.transaction(({ resources }) =>
        resources.addMembers("m-g1", [{ id: "m-u3", type: "User" }, { id: "m-u1", type: "User" }, { id: "m-g0", type: "Group" }, { id: "m-u3", type: "User" }]),
      );
      expect(added).toEqual(["m-u3", "m-u1", "m-g0"]);
      expect(await store.transaction(({ resources }) => resources.addMembers("m-g1", [{ id: "m-u1", type: "User" }, { id: "m-u2", type: "User" }]))).toEqual(["m-u2"]);
      // Insertion order, not id order: m-u3 was added before m-u1.
      const order: [string, string, string][] = [["m-u3", "User", "Three"], ["m-u1", "User", "One"], ["m-g0", "Group", "Nested"], ["m-u2", "User", "m.two"]];
      expect(await store.resources.members("m-g1")).toEqual(order.map(([value, type, display]) => ({ value, type, display })));
      expect(await store.resources.memberIds("m-g1")).toEqual(order.map(([id, type]) => ({ id, type })));
      await store.transaction(({ resources }) => resources.addMembers("m-g2", [{ id: "m-u1", type: "User" }]));
      expect(await store.resources.groupsOf("m-u1")).toEqual([{ value: "m-g1", display: "Members A" }, { value: "m-g2", display: "Members B" }]);
      // A member's new name reaches the display kept with each of its memberships.
      await store.transaction(({ resources }) => resources.update("User", { ...user("m-u1", { userName: "m.one", displayName: "Uno" }), version: 2 }));
      await store.transaction(({ resources }) => resources.update("Group", { ...group("m-g0", "Nested Renamed"), version: 2 }));
      expect((await store.resources.members("m-g1")).map((m) => m.display)).toEqual(["Three", "Uno", "Nested Renamed", "m.two"]);
      expect((await store.resources.members("m-g2")).map((m) => m.display)).toEqual(["Uno"]);

      expect(await store.transaction(({ resources }) => resources.removeMembers("m-g1", ["m-u1", "absent", "m-u1"]))).toEqual(["m-u1"]);
      expect(ids((await store.resources.memberIds("m-g1")))).toEqual(["m-u3", "m-g0", "m-u2"]);
      // A deleted user leaves its groups.
      await store.transaction(({ resources }) => resources.delete("User", "m-u3"));
      expect(ids(await store.resources.memberIds("m-g1"))).toEqual(["m-g0", "m-u2"]);
      expect(await store.resources.count("Group", where("Group", 'members.value eq "m-u2"'))).toBe(1);
    });

    describe("lists", () => {
      // ls-0 … ls-9: displayName from three values or none (NULL keys and ties), folded non-ASCII.
      const names = ["Émile", "émile", undefined, "Zoë", "ÉMILE", undefined, "zoë", "Ärzte", "Émile", undefined];
      const lists = () => where("User", 'userName sw "ls."');
      beforeAll(async () => {
        await insert(
          "User",
          ...names.map((displayName, i) =>
            user(`ls-${i}`, { userName: `ls.${"ÀÉÎÕÜ"[i % 5]}${i}`, ...(displayName ? { displayName } : {}), title: i % 3 ? `Oberärztin ${i}` : undefined }, `2026-03-0${(i % 3) + 1}T00:00:00.000Z`),
          ),
        );
      });

      it("counts and pages filtered rows, folding non-ASCII letters as fold() does", async () => {
        expect(await store.resources.count("User", lists())).toBe(10);
        expect(await store.resources.count("User", where("User", 'userName sw "LS.à"'))).toBe(2);
        expect(await store.resources.count("User", where("User", 'displayName eq "émile"'))).toBe(4);
        // title lives in `data`: scim_fold() in SQL on both engines.
        expect(ids(await store.resources.page("User", { where: where("User", 'title co "OBERÄRZTIN"'), offset: 0, limit: 20 }))).toEqual(["ls-1", "ls-2", "ls-4", "ls-5", "ls-7", "ls-8"]);
        expect(ids(await store.resources.page("User", { where: lists(), offset: 3, limit: 4 }))).toEqual(["ls-3", "ls-4", "ls-5", "ls-6"]);
        expect(await store.resources.page("User", { where: lists(), offset: 0, limit: 0 })).toEqual([]);
      });

      it("sorts with NULL keys first ascending and last descending, seq breaking ties, byte-wise", async () => {
        const orderBy = sortKey("User", "displayName");
        const ascending = ids(await store.resources.page("User", { where: lists(), orderBy, offset: 0, limit: 20 }));
        // Folded keys: NULL ×3, "zoë" ×2 after "émile" ×4 only byte-wise ("é" is U+00E9 > "z"), "ärzte" first of those.
        expect(ascending).toEqual(["ls-2", "ls-5", "ls-9", "ls-3", "ls-6", "ls-7", "ls-0", "ls-1", "ls-4", "ls-8"]);
        const descending = ids(await store.resources.page("User", { where: lists(), orderBy, descending: true, offset: 0, limit: 20 }));
        expect(descending).toEqual(["ls-8", "ls-4", "ls-1", "ls-0", "ls-7", "ls-6", "ls-3", "ls-9", "ls-5", "ls-2"]);
        expect(ids(await store.resources.page("User", { where: lists(), orderBy, descending: true, offset: 8, limit: 5 }))).toEqual(["ls-5", "ls-2"]);
      });

      it("reads keyset pages forward and backward from every boundary, as the full order holds them", async () => {
        for (const sortBy of [undefined, "displayName", "userName", "meta.created", "title"]) {
          const orderBy = sortBy === undefined ? undefined : sortKey("User", sortBy);
          for (const descending of [false, true]) {
            const all = await store.resources.keyset("User", { where: lists(), orderBy, descending, backward: false, limit: 100 });
            expect(ids(all), `${sortBy} ${descending}`).toEqual(ids(await store.resources.page("User", { where: lists(), orderBy, descending, offset: 0, limit: 100 })));
            for (let pick = 0; pick < all.length; pick++) {
              const from = all[pick]!.at;
              for (const limit of [1, 3]) {
                const next = await store.resources.keyset("User", { where: lists(), orderBy, descending, from, backward: false, limit });
                const previous = await store.resources.keyset("User", { where: lists(), orderBy, descending, from, backward: true, limit });
                const want = { next: all.slice(pick + 1, pick + 1 + limit), previous: all.slice(Math.max(0, pick - limit), pick).reverse() };
                expect({ next: ids(next), previous: ids(previous) }, `${sortBy} ${descending} from ${pick}`).toEqual({ next: ids(want.next), previous: ids(want.previous) });
              }
            }
          }
        }
        // A boundary is plain data (it travels inside a sealed cursor): JSON keeps it.
        const orderBy = sortKey("User", "displayName");
        const first: KeyedResource[] = await store.resources.keyset("User", { where: lists(), orderBy, descending: false, backward: false, limit: 4 });
        const from = JSON.parse(JSON.stringify(first[3]!.at)) as KeyedResource["at"];
        expect(ids(await store.resources.keyset("User", { where: lists(), orderBy, descending: false, from, backward: false, limit: 2 }))).toEqual(["ls-6", "ls-7"]);
      });

      it("says a sort needs every row sorted only where no index delivers the order", async () => {
        for (const sortBy of ["userName", "displayName", "meta.created", "meta.lastModified", "externalId"]) {
          for (const descending of [false, true]) {
            expect(await store.resources.sortsEveryRow("User", { orderBy: sortKey("User", sortBy), descending, offset: 5, limit: 5 }), `${sortBy} ${descending}`).toBe(false);
          }
        }
        expect(await store.resources.sortsEveryRow("Group", { orderBy: sortKey("Group", "displayName"), offset: 0, limit: 5 })).toBe(false);
        expect(await store.resources.sortsEveryRow("User", { orderBy: sortKey("User", "title"), offset: 0, limit: 5 })).toBe(true);
        expect(await store.resources.sortsEveryRow("User", { orderBy: sortKey("User", "name.familyName"), descending: true, offset: 0, limit: 5 })).toBe(true);
        // Asked inside a transaction, the question leaves it usable.
        await store.transaction(async ({ resources }) => {
          expect(await resources.sortsEveryRow("User", { orderBy: sortKey("User", "title"), offset: 0, limit: 5 })).toBe(true);
          await resources.insert("User", user("sort-tx", { userName: "sort.tx" }));
        });
        expect(await store.resources.exists("User", "sort-tx")).toBe(true);
      });
    });

    it("scans every id of a kind in insertion order, a page at a time", async () => {
      const before = await store.scan.count("Group");
      await insert("Group", group("scan-1", "Scan 1"), group("scan-2", "Scan 2"), group("scan-3", "Scan 3"));
      expect(await store.scan.count("Group")).toBe(before + 3);
      const pages: string[][] = [];
      for await (const page of store.scan.pages("Group", 2)) pages.push(page);
      expect(pages.every((p) => p.length <= 2)).toBe(true);
      expect(pages.flat().slice(-3)).toEqual(["scan-1", "scan-2", "scan-3"]);
      expect(pages.flat()).toHaveLength(before + 3);
    });
  });

  describe("tokens", () => {
    const row = (name: string, hash: string, created: string) => ({ name, hash, hint: name.slice(0, 4), created });
    it("lists oldest first, answers has, marks use, replaces, re-keys unkeyed hashes and removes", async () => {
      await store.transaction(async ({ tokens }) => {
        await tokens.add(row("beta", "hmac$0$b", "2026-01-02T00:00:00.000Z"));
        await tokens.add(row("alpha", "plain-a", "2026-01-01T00:00:00.000Z"));
      });
      expect((await store.tokens.list()).map((t) => [t.name, t.hint, t.created, t.lastUsed])).toEqual([["alpha", "alph", "2026-01-01T00:00:00.000Z", null], ["beta", "beta", "2026-01-02T00:00:00.000Z", null]]);
      expect([await store.tokens.has("alpha"), await store.tokens.has("gamma")]).toEqual([true, false]);
      await store.transaction(({ tokens }) => tokens.markUsed("beta", "2026-01-04T00:00:00.000Z"));
      expect((await store.tokens.list()).find((t) => t.name === "beta")?.lastUsed).toBe("2026-01-04T00:00:00.000Z");
      expect(await store.tokens.rekeyUnkeyed((r) => ({ hash: `hmac$1$${r.hash}`, hint: "new" }))).toBe(1);
      expect(await store.tokens.hashes()).toEqual(expect.arrayContaining([{ name: "alpha", hash: "hmac$1$plain-a" }, { name: "beta", hash: "hmac$0$b" }]));
      await store.tokens.replace(row("beta", "hmac$2$b", "2026-01-05T00:00:00.000Z"));
      expect((await store.tokens.hashes()).find((t) => t.name === "beta")?.hash).toBe("hmac$2$b");
      expect(await store.transaction(async ({ tokens }) => [await tokens.remove("alpha"), await tokens.remove("alpha")])).toEqual([true, false]);
    });
  });

  describe("audit", () => {
    const none = { client: null, target: null, dn: null, detail: null };
    const entry = (at: string, kind: string, outcome: string, resourceId: string | null = null): AuditEntry => ({ ...none, at, kind, outcome, resourceId, operation: kind === "ldap" ? "add" : "POST", resourceType: resourceId ? "User" : null });
    it("appends, pages by seq, counts LDAP outcomes per hour and prunes by age", async () => {
      await store.audit.append([
        entry("2026-02-01T10:05:00.000Z", "ldap", "success"),
        entry("2026-02-01T10:45:00.000Z", "ldap", "error"),
        entry("2026-02-01T11:15:00.000Z", "ldap", "success", "a1"),
        entry("2026-02-01T11:20:00.000Z", "scim", "201", "a1"),
        entry("2026-02-01T11:30:00.000Z", "ldap", "success"),
      ]);
      const all = await store.audit.page({ newest: false, limit: 10 });
      expect(all.map((r) => r.at)).toEqual(["2026-02-01T10:05:00.000Z", "2026-02-01T10:45:00.000Z", "2026-02-01T11:15:00.000Z", "2026-02-01T11:20:00.000Z", "2026-02-01T11:30:00.000Z"]);
      expect(all.every((r, i) => typeof r.seq === "number" && (i === 0 || r.seq > all[i - 1]!.seq))).toBe(true);
      const newest = await store.audit.page({ newest: true, limit: 2 });
      expect(newest.map((r) => r.at)).toEqual(["2026-02-01T11:30:00.000Z", "2026-02-01T11:20:00.000Z"]);
      expect((await store.audit.page({ newest: true, after: newest[1]!.seq, limit: 10 })).map((r) => r.at)).toEqual(["2026-02-01T11:15:00.000Z", "2026-02-01T10:45:00.000Z", "2026-02-01T10:05:00.000Z"]);
      expect((await store.audit.page({ newest: false, resourceType: "User", resourceId: "a1", kind: "scim", limit: 10 })).map((r) => r.outcome)).toEqual(["201"]);
      expect((await store.audit.page({ newest: false, since: "2026-02-01T11:16:00.000Z", limit: 10 })).length).toBe(2);
      const perHour = await store.audit.ldapOutcomesPerHour("2026-02-01T10:30:00.000Z");
      expect(perHour.map((r) => `${r.hour} ${r.outcome} ${r.n}`).sort()).toEqual(["2026-02-01T10 error 1", "2026-02-01T11 success 2"]);
      expect(await store.transaction(({ audit }) => audit.pruneBefore("2026-02-01T11:00:00.000Z"))).toBe(2);
      expect((await store.audit.page({ newest: false, limit: 10 })).length).toBe(3);
    });
  });

  describe("metrics", () => {
    it("counts changes not yet fanned out and dates the oldest", async () => {
      const depth = await store.metrics.outboxDepth();
      expect(await store.metrics.oldestPendingAt()).toBeUndefined();
      await store.transaction(async ({ resources }) => {
        await resources.recordChange({ kind: "User", id: "x1", op: "create", version: 1, at: "2026-04-01T00:00:00.000Z", after: { userName: "x" }, client: "idp" });
        await resources.recordChange({ kind: "Group", id: "g1", op: "update", version: 2, at: "2026-04-02T00:00:00.000Z", membersAdded: ["x1"] });
      });
      expect(await store.metrics.outboxDepth()).toBe(depth + 2);
      expect(await store.metrics.oldestPendingAt()).toBe("2026-04-01T00:00:00.000Z");
      expect(await store.metrics.countByTarget("pending")).toEqual([]);
    });
  });

  describe("transactions", () => {
    it("a throw rolls everything back and rejects with the error", async () => {
      const boom = new Error("boom");
      await expect(
        store.transaction(async ({ resources }) => {
          await resources.insert("User", user("tx-rb", { userName: "tx.rb", emails: [{ value: "rb@example.com" }] }));
          await resources.addMembers("m-g2", [{ id: "tx-rb", type: "User" }]);
          throw boom;
        }),
      ).rejects.toBe(boom);
      expect(await store.resources.exists("User", "tx-rb")).toBe(false);
      expect(ids(await store.resources.memberIds("m-g2"))).not.toContain("tx-rb");
      expect(await store.resources.count("User", where("User", 'emails.value eq "rb@example.com"'))).toBe(0);
    });

    it("a nested transaction is rolled back alone, and a failed statement inside it leaves the outer one usable", async () => {
      const result = await store.transaction(async (tx) => {
        await tx.resources.insert("User", user("tx-outer", { userName: "tx.outer" }));
        // The getters inside the transaction are its query objects.
        expect(store.resources).toBe(tx.resources);
        await store
          .transaction(async ({ resources }) => {
            await resources.insert("User", user("tx-inner", { userName: "tx.inner" }));
            throw new Error("inner");
          })
          .catch(() => undefined);
        // A unique violation inside a savepoint: the outer transaction goes on (PostgreSQL would
        // otherwise abort it and refuse every later statement).
        const dup = await store.transaction(({ resources }) => resources.insert("User", user("tx-dup", { userName: "TX.OUTER" }))).catch((e: unknown) => e);
        expect(isUniqueViolation(dup)).toBe(true);
        await store.transaction(({ resources }) => resources.insert("User", user("tx-inner-ok", { userName: "tx.inner.ok" })));
        return "done";
      });
      expect(result).toBe("done");
      expect(await Promise.all(["tx-outer", "tx-inner", "tx-dup", "tx-inner-ok"].map((x) => store.resources.exists("User", x)))).toEqual([true, false, false, true]);
    });

    it("reads outside a transaction do not see its uncommitted writes, and see them once committed", async () => {
      const tx = holdOpen(store, ({ resources }) => resources.insert("User", user("tx-iso", { userName: "tx.iso" })));
      await tx.ready;
      expect(await store.resources.exists("User", "tx-iso")).toBe(false);
      expect(await store.resources.count("User", where("User", 'userName eq "tx.iso"'))).toBe(0);
      tx.release();
      await tx.done;
      expect(await store.resources.exists("User", "tx-iso")).toBe(true);
    });

    it("two concurrent transactions both commit, in some order", async () => {
      const one = (n: number) =>
        store.transaction(async ({ resources }) => {
          await resources.insert("User", user(`tx-c${n}a`, { userName: `tx.c${n}a` }));
          await sleep(20);
          await resources.insert("User", user(`tx-c${n}b`, { userName: `tx.c${n}b` }));
          return n;
        });
      expect(await Promise.all([one(1), one(2)])).toEqual([1, 2]);
      expect(await store.resources.count("User", where("User", 'userName sw "tx.c"'))).toBe(4);
    });

    it("a resource locked for write makes another writer wait, which then reads what the first committed", async () => {
      await insert("User", user("tx-lock", { userName: "tx.lock" }));
      const first = holdOpen(store, ({ resources }) => resources.lockForWrite("User", "tx-lock"), ({ resources }, current) => resources.update("User", { ...current!, version: 5 }));
      await first.ready;
      const second = store.transaction(async ({ resources }) => (await resources.lockForWrite("User", "tx-lock"))?.version);
      await sleep(100);
      first.release();
      await first.done;
      expect(await second).toBe(5);
    });

    it("close() lets an open transaction commit, then refuses new ones", async () => {
      const other = await engine.open();
      const tx = holdOpen(other, async () => undefined, ({ resources }) => resources.insert("Group", group("close-g", "Closing")));
      await tx.ready;
      const closed = other.close();
      tx.release();
      await tx.done;
      await closed;
      expect(other.isOpen()).toBe(false);
      await expect(other.transaction(() => undefined)).rejects.toThrow();
    });
  });
});

describe("the postgres engine only", () => {
  let store: PostgresEngine;
  let url: string;
  beforeAll(async () => {
    url = await pg.server.createDatabase();
    store = await openPostgresStore({ url, pool: { max: 2, lockTimeoutMs: 300 } });
  }, 60_000);
  afterAll(async () => {
    await store?.close();
  });

  /** A session on the server's own `postgres` database: unaffected by what the tests set on theirs. */
  async function admin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
    const c = new Client({ connectionString: pg.server.url });
    await c.connect();
    return fn(c).finally(() => c.end());
  }

  it("a lock wait ends after lock_timeout with 55P03 instead of hanging", async () => {
    await store.transaction(({ resources }) => resources.insert("Group", group("lock-g", "Locked")));
    const holder = holdOpen(store, ({ resources }) => resources.lockForWrite("Group", "lock-g"));
    await holder.ready;
    const started = Date.now();
    const e = await store.transaction(({ resources }) => resources.touch("Group", "lock-g", T0)).catch((x: unknown) => x);
    expect([sqlState(e), Date.now() - started < 5_000]).toEqual(["55P03", true]);
    holder.release();
    await holder.done;
    // The connection that failed went back to the pool in a usable state.
    expect(await store.transaction(({ resources }) => resources.touch("Group", "lock-g", T0))).toBe(2);
  });

  it("a read-only database is a storage fault (25006) in health until a write goes through again", async () => {
    const dbName = new URL(url).pathname.slice(1);
    const reconnect = () => admin((c) => c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [dbName]));
    await admin((c) => c.query(`ALTER DATABASE "${dbName}" SET default_transaction_read_only = on`));
    await reconnect();
    await sleep(200);
    expect(await store.probeWritable()).toBe(false);
    expect(store.health.fault()?.code).toBe("25006");
    await admin((c) => c.query(`ALTER DATABASE "${dbName}" SET default_transaction_read_only = off`));
    await reconnect();
    await sleep(200);
    expect(await store.probeWritable()).toBe(true);
    expect(store.health.fault()).toBeUndefined();
  });

  it("a connection that died under a transaction is discarded, not handed to the next one", async () => {
    const dbName = new URL(url).pathname.slice(1);
    const tx = holdOpen(store, async () => undefined, ({ resources }) => resources.exists("User", "nobody"));
    await tx.ready;
    await admin((c) => c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [dbName]));
    await sleep(200);
    tx.release();
    await expect(tx.done).rejects.toThrow();
    expect(await store.transaction(({ resources }) => resources.count("User"))).toBeGreaterThanOrEqual(0);
    expect(store.pool.totalCount).toBeLessThanOrEqual(2);
  });

  it("COMMIT of a transaction a caught statement error aborted rejects instead of passing for a commit", async () => {
    await expect(
      store.transaction(async ({ resources }) => {
        await resources.insert("User", user("ab-1", { userName: "ab.one" }));
        await resources.insert("User", user("ab-2", { userName: "AB.ONE" })).catch(() => undefined);
      }),
    ).rejects.toThrow(/rolled back at COMMIT/);
    expect(await store.resources.exists("User", "ab-1")).toBe(false);
  });

  it("refuses a database that is not UTF8 or whose default collation does not order byte-wise, naming it and the fix", async () => {
    const at = (name: string) => Object.assign(new URL(url), { pathname: `/${name}` }).toString();
    await admin((c) => c.query(`CREATE DATABASE "t_icu_engine" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'`));
    await expect(openPostgresStore({ url: at("t_icu_engine") })).rejects.toThrow(/"t_icu_engine" uses an ICU collation.*CREATE DATABASE "t_icu_engine" TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'/);
    await admin((c) => c.query(`CREATE DATABASE "t_ascii_engine" TEMPLATE template0 ENCODING 'SQL_ASCII' LOCALE 'C'`));
    await expect(openPostgresStore({ url: at("t_ascii_engine") })).rejects.toThrow(/"t_ascii_engine" has encoding SQL_ASCII; scimbridge needs UTF8/);
  });

  it("counts PostgreSQL's disk_full as a storage fault, also wrapped by drizzle", () => {
    const full = Object.assign(new DatabaseError("could not extend file", 0, "error"), { code: "53100" });
    expect([storageFaultCode(new Error("Failed query", { cause: full })), storageFaultCode(Object.assign(new DatabaseError("x", 0, "error"), { code: "23505" }))]).toEqual(["53100", undefined]);
  });
});
