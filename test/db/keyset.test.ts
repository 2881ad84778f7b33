/**
 * Keyset reads (ResourceQueries.keyset) against the same rows listed with ORDER BY: from any
 * boundary, forwards and backwards, across sort-key ties and NULL keys, the rows are the ones the
 * full order holds after (before) it. And the sort keys lists are ordered by walk an index.
 */
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileSortKey } from "../../db/filter-sql.js";
import { openStore, type SqliteStore } from "../../db/open.js";
import type { KeyedResource } from "../../db/resources.js";
import { SchemaRegistry } from "../../schemas/registry.js";

const registry = new SchemaRegistry([]);
let dir: string;
let store: SqliteStore;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scimbridge-keyset-"));
  store = openStore(join(dir, "k.db"));
  // 40 users: displayName from 4 values or none (NULL), created from 3 instants (ties everywhere).
  await store.transaction(async ({ resources }) => {
    for (let i = 0; i < 40; i++) {
      const at = `2026-01-0${(i * 7) % 3 + 1}T00:00:00.000Z`;
      const displayName = i % 5 === 0 ? undefined : `N${(i * 3) % 4}`;
      await resources.insert("User", { id: `u${i}`, created: at, lastModified: at, version: 1, attributes: { userName: `k${(i * 13) % 40}`, ...(displayName ? { displayName } : {}) } });
    }
  });
});
afterAll(async () => {
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const SORTS = [undefined, "userName", "displayName", "meta.created", "meta.lastModified"] as const;
const ids = (rows: KeyedResource[]) => rows.map((r) => r.id);

describe("keyset", () => {
  it("reads what the full order holds after (or before) any boundary", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...SORTS), fc.boolean(), fc.boolean(), fc.nat(39), fc.integer({ min: 1, max: 45 }), async (sortBy, descending, backward, pick, limit) => {
        const orderBy = sortBy === undefined ? undefined : compileSortKey(registry, "User", sortBy);
        const all = await store.resources.keyset("User", { orderBy, descending, backward: false, limit: 1000 });
        expect(ids(all)).toEqual((await store.resources.page("User", { orderBy, descending, offset: 0, limit: 1000 })).map((r) => r.id));
        const from = all[pick]!.at;
        const got = await store.resources.keyset("User", { orderBy, descending, from, backward, limit });
        const want = backward ? all.slice(Math.max(0, pick - limit), pick).reverse() : all.slice(pick + 1, pick + 1 + limit);
        expect(ids(got)).toEqual(ids(want));
      }),
      { numRuns: 300 },
    );
  });
});

describe("indexed sort keys", () => {
  it.each(["userName", "displayName", "meta.created", "meta.lastModified"])("User %s: a deep page walks an index, no sort of every row", async (sortBy) => {
    const orderBy = compileSortKey(registry, "User", sortBy);
    for (const descending of [false, true]) expect(await store.resources.sortsEveryRow("User", { orderBy, descending, offset: 30, limit: 5 })).toBe(false);
  });

  it.each(["displayName", "meta.created", "meta.lastModified"])("Group %s: a deep page walks an index", async (sortBy) => {
    expect(await store.resources.sortsEveryRow("Group", { orderBy: compileSortKey(registry, "Group", sortBy), offset: 30, limit: 5 })).toBe(false);
  });

  it("an attribute without an index sorts every row (bounded by scim.limits.sortResources)", async () => {
    expect(await store.resources.sortsEveryRow("User", { orderBy: compileSortKey(registry, "User", "title"), offset: 0, limit: 5 })).toBe(true);
  });
});
