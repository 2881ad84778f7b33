/**
 * The tokens and audit_log tables behind their store modules, on a real SQLite file: what each
 * method answers, and that the writes that must be whole (a token replaced, a batch of audit
 * rows, stored hashes re-keyed) are all or nothing; and Store.transaction itself.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { AuditEntry } from "../../db/audit.js";
import { openStore } from "../../db/open.js";

const dir = mkdtempSync(join(tmpdir(), "scimbridge-store-modules-"));
const store = openStore(join(dir, "scim.db"));
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("TokenStore", () => {
  const tokens = () => store.tokens;
  const row = (name: string, hash: string, created: string) => ({ name, hash, hint: `${name.slice(0, 4)}`, created });
  const add = (...rows: ReturnType<typeof row>[]) =>
    store.transaction(async ({ tokens }) => {
      for (const r of rows) await tokens.add(r);
    });

  it("lists oldest first without hashes, answers has, replaces and removes by name", async () => {
    await add(row("beta", "hmac$00000000$" + "b".repeat(64), "2026-01-02T00:00:00.000Z"), row("alpha", "hmac$00000000$" + "a".repeat(64), "2026-01-01T00:00:00.000Z"));
    expect(await tokens().list()).toEqual([
      { name: "alpha", hint: "alph", created: "2026-01-01T00:00:00.000Z", lastUsed: null },
      { name: "beta", hint: "beta", created: "2026-01-02T00:00:00.000Z", lastUsed: null },
    ]);
    expect([await tokens().has("alpha"), await tokens().has("gamma")]).toEqual([true, false]);
    await tokens().replace(row("alpha", "hmac$00000000$" + "c".repeat(64), "2026-01-03T00:00:00.000Z"));
    expect((await tokens().hashes()).find((r) => r.name === "alpha")?.hash).toBe("hmac$00000000$" + "c".repeat(64));
    await store.transaction(({ tokens }) => tokens.markUsed("beta", "2026-01-04T00:00:00.000Z"));
    expect((await tokens().list()).find((t) => t.name === "beta")?.lastUsed).toBe("2026-01-04T00:00:00.000Z");
    expect(await store.transaction(async ({ tokens }) => [await tokens.remove("alpha"), await tokens.remove("alpha")])).toEqual([true, false]);
    await store.transaction(({ tokens }) => tokens.remove("beta"));
    expect(await tokens().list()).toEqual([]);
  });

  it("re-keys only rows not stored as a keyed hash, and none when one fails", async () => {
    await add(
      row("keyed", "hmac$00000000$" + "d".repeat(64), "2026-01-01T00:00:00.000Z"),
      row("old1", "e".repeat(64), "2026-01-02T00:00:00.000Z"),
      row("old2", "f".repeat(64), "2026-01-03T00:00:00.000Z"),
    );
    const seen: string[] = [];
    await expect(
      tokens().rekeyUnkeyed((r) => {
        seen.push(r.name);
        if (r.name === "old2") throw new Error("cannot re-key");
        return { hash: `hmac$11111111$${r.hash}`, hint: "new" };
      }),
    ).rejects.toThrow("cannot re-key");
    expect(seen.sort()).toEqual(["old1", "old2"]);
    expect((await tokens().hashes()).map((r) => r.hash).filter((h) => h.startsWith("hmac$1"))).toEqual([]);
    expect(await tokens().rekeyUnkeyed((r) => (r.name === "old1" ? { hash: `hmac$11111111$${r.hash}`, hint: "new" } : undefined))).toBe(1);
    expect(Object.fromEntries((await tokens().hashes()).map((r) => [r.name, r.hash.slice(0, 14)]))).toEqual({ keyed: "hmac$00000000$", old1: "hmac$11111111$", old2: "f".repeat(14) });
  });
});

describe("AuditStore", () => {
  const audit = () => store.audit;
  const entry = (at: string, kind: "scim" | "ldap", outcome: string, resourceId: string | null = null): AuditEntry => ({
    at, kind, client: null, operation: kind === "ldap" ? "add" : "POST", resourceType: resourceId === null ? null : "User", resourceId, target: null, dn: null, outcome, detail: null,
  });

  it("appends a batch whole or not at all", async () => {
    const bad = { ...entry("2026-02-01T10:00:00.000Z", "scim", "201"), operation: null as unknown as string }; // NOT NULL
    await expect(audit().append([entry("2026-02-01T10:00:00.000Z", "scim", "201"), bad])).rejects.toThrow();
    expect(await audit().page({ newest: false, limit: 10 })).toEqual([]);
    await audit().append([entry("2026-02-01T10:00:00.000Z", "scim", "201", "u1"), entry("2026-02-01T10:30:00.000Z", "ldap", "success", "u1"), entry("2026-02-01T11:05:00.000Z", "ldap", "error", "u2")]);
    expect((await audit().page({ newest: false, limit: 10 })).map((r) => r.outcome)).toEqual(["201", "success", "error"]);
  });

  it("pages by seq either way, filtered, and counts LDAP outcomes per hour", async () => {
    await audit().append([entry("2026-02-01T11:40:00.000Z", "ldap", "success", "u1"), entry("2026-02-01T12:00:00.000Z", "ldap", "success", "u3")]);
    const all = await audit().page({ newest: false, limit: 100 });
    const first = await audit().page({ newest: false, limit: 2 });
    const rest = await audit().page({ newest: false, after: first[1]!.seq, limit: 100 });
    expect([...first, ...rest]).toEqual(all);
    expect(await audit().page({ newest: true, limit: 100 })).toEqual([...all].reverse());
    expect((await audit().page({ newest: false, kind: "ldap", resourceType: "User", resourceId: "u1", since: "2026-02-01T10:15:00.000Z", limit: 100 })).map((r) => r.at)).toEqual([
      "2026-02-01T10:30:00.000Z",
      "2026-02-01T11:40:00.000Z",
    ]);
    const hours = await audit().ldapOutcomesPerHour("2026-02-01T11:00:00.000Z");
    expect(hours.sort((a, b) => (a.hour + a.outcome).localeCompare(b.hour + b.outcome))).toEqual([
      { hour: "2026-02-01T11", outcome: "error", n: 1 },
      { hour: "2026-02-01T11", outcome: "success", n: 1 },
      { hour: "2026-02-01T12", outcome: "success", n: 1 },
    ]);
    expect(await store.transaction(({ audit }) => audit.pruneBefore("2026-02-01T11:00:00.000Z"))).toBe(2);
    expect((await audit().page({ newest: false, limit: 100 })).map((r) => r.at)).toEqual(["2026-02-01T11:05:00.000Z", "2026-02-01T11:40:00.000Z", "2026-02-01T12:00:00.000Z"]);
  });
});

describe("Store.transaction", () => {
  const row = (name: string) => ({ name, hash: "x", hint: "x", created: "2026-03-01T00:00:00.000Z" });

  it("commits what fn wrote when it resolves, rolls all of it back when it throws, and nests as a savepoint", async () => {
    await expect(
      store.transaction(async ({ tokens }) => {
        await tokens.add(row("t1"));
        throw new Error("stop");
      }),
    ).rejects.toThrow("stop");
    expect(await store.tokens.has("t1")).toBe(false);
    await store.transaction(async ({ tokens }) => {
      await tokens.add(row("t2"));
      // The second add is a duplicate: the inner transaction rolls back alone.
      await expect(store.transaction(async ({ tokens }) => (await tokens.add(row("t3")), await tokens.add(row("t3"))))).rejects.toThrow();
    });
    expect([await store.tokens.has("t2"), await store.tokens.has("t3")]).toEqual([true, false]);
  });

  it("points the store's getters at the transaction inside it, and refuses a write outside one", async () => {
    await store.transaction(async () => {
      await store.tokens.add(row("t4"));
      expect(await store.tokens.has("t4")).toBe(true);
    });
    expect(await store.tokens.has("t4")).toBe(true);
    // Outside a transaction the getters are on the read-only connection: a stray write fails
    // instead of landing inside whichever transaction holds the writing connection.
    await expect(store.tokens.add(row("t5"))).rejects.toThrow(/readonly/);
    expect(await store.tokens.has("t5")).toBe(false);
  });
});
