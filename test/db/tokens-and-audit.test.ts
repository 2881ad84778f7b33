/**
 * The tokens and audit_log tables behind their store modules, on a real SQLite file: what each
 * method answers, and that the writes that must be whole (a token replaced, a batch of audit
 * rows, stored hashes re-keyed) are all or nothing.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AuditStore, type AuditEntry } from "../../db/audit.js";
import { openStore } from "../../db/open.js";
import { TokenStore } from "../../db/tokens.js";
import { writeTransaction } from "../../db/transaction.js";

const dir = mkdtempSync(join(tmpdir(), "scimbridge-store-modules-"));
const store = openStore(join(dir, "scim.db"));
afterAll(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("TokenStore", () => {
  const tokens = new TokenStore(store);
  const row = (name: string, hash: string, created: string) => ({ name, hash, hint: `${name.slice(0, 4)}`, created });

  it("lists oldest first without hashes, answers has, replaces and removes by name", () => {
    tokens.add(row("beta", "hmac$00000000$" + "b".repeat(64), "2026-01-02T00:00:00.000Z"));
    tokens.add(row("alpha", "hmac$00000000$" + "a".repeat(64), "2026-01-01T00:00:00.000Z"));
    expect(tokens.list()).toEqual([
      { name: "alpha", hint: "alph", created: "2026-01-01T00:00:00.000Z", lastUsed: null },
      { name: "beta", hint: "beta", created: "2026-01-02T00:00:00.000Z", lastUsed: null },
    ]);
    expect([tokens.has("alpha"), tokens.has("gamma")]).toEqual([true, false]);
    tokens.replace(row("alpha", "hmac$00000000$" + "c".repeat(64), "2026-01-03T00:00:00.000Z"));
    expect(tokens.hashes().find((r) => r.name === "alpha")?.hash).toBe("hmac$00000000$" + "c".repeat(64));
    tokens.markUsed("beta", "2026-01-04T00:00:00.000Z");
    expect(tokens.list().find((t) => t.name === "beta")?.lastUsed).toBe("2026-01-04T00:00:00.000Z");
    expect([tokens.remove("alpha"), tokens.remove("alpha")]).toEqual([true, false]);
    tokens.remove("beta");
    expect(tokens.list()).toEqual([]);
  });

  it("re-keys only rows not stored as a keyed hash, and none when one fails", () => {
    tokens.add(row("keyed", "hmac$00000000$" + "d".repeat(64), "2026-01-01T00:00:00.000Z"));
    tokens.add(row("old1", "e".repeat(64), "2026-01-02T00:00:00.000Z"));
    tokens.add(row("old2", "f".repeat(64), "2026-01-03T00:00:00.000Z"));
    const seen: string[] = [];
    expect(() =>
      tokens.rekeyUnkeyed((r) => {
        seen.push(r.name);
        if (r.name === "old2") throw new Error("cannot re-key");
        return { hash: `hmac$11111111$${r.hash}`, hint: "new" };
      }),
    ).toThrow("cannot re-key");
    expect(seen.sort()).toEqual(["old1", "old2"]);
    expect(tokens.hashes().map((r) => r.hash).filter((h) => h.startsWith("hmac$1"))).toEqual([]);
    expect(tokens.rekeyUnkeyed((r) => (r.name === "old1" ? { hash: `hmac$11111111$${r.hash}`, hint: "new" } : undefined))).toBe(1);
    expect(Object.fromEntries(tokens.hashes().map((r) => [r.name, r.hash.slice(0, 14)]))).toEqual({ keyed: "hmac$00000000$", old1: "hmac$11111111$", old2: "f".repeat(14) });
  });
});

describe("AuditStore", () => {
  const audit = new AuditStore(store);
  const entry = (at: string, kind: "scim" | "ldap", outcome: string, resourceId: string | null = null): AuditEntry => ({
    at, kind, client: null, operation: kind === "ldap" ? "add" : "POST", resourceType: resourceId === null ? null : "User", resourceId, target: null, dn: null, outcome, detail: null,
  });

  it("appends a batch whole or not at all", () => {
    const bad = { ...entry("2026-02-01T10:00:00.000Z", "scim", "201"), operation: null as unknown as string }; // NOT NULL
    expect(() => audit.append([entry("2026-02-01T10:00:00.000Z", "scim", "201"), bad])).toThrow();
    expect(audit.page({ newest: false, limit: 10 })).toEqual([]);
    audit.append([entry("2026-02-01T10:00:00.000Z", "scim", "201", "u1"), entry("2026-02-01T10:30:00.000Z", "ldap", "success", "u1"), entry("2026-02-01T11:05:00.000Z", "ldap", "error", "u2")]);
    expect(audit.page({ newest: false, limit: 10 }).map((r) => r.outcome)).toEqual(["201", "success", "error"]);
  });

  it("pages by seq either way, filtered, and counts LDAP outcomes per hour", () => {
    audit.append([entry("2026-02-01T11:40:00.000Z", "ldap", "success", "u1"), entry("2026-02-01T12:00:00.000Z", "ldap", "success", "u3")]);
    const all = audit.page({ newest: false, limit: 100 });
    const first = audit.page({ newest: false, limit: 2 });
    const rest = audit.page({ newest: false, after: first[1]!.seq, limit: 100 });
    expect([...first, ...rest]).toEqual(all);
    expect(audit.page({ newest: true, limit: 100 })).toEqual([...all].reverse());
    expect(audit.page({ newest: false, kind: "ldap", resourceType: "User", resourceId: "u1", since: "2026-02-01T10:15:00.000Z", limit: 100 }).map((r) => r.at)).toEqual([
      "2026-02-01T10:30:00.000Z",
      "2026-02-01T11:40:00.000Z",
    ]);
    const hours = audit.ldapOutcomesPerHour("2026-02-01T11:00:00.000Z");
    expect(hours.sort((a, b) => (a.hour + a.outcome).localeCompare(b.hour + b.outcome))).toEqual([
      { hour: "2026-02-01T11", outcome: "error", n: 1 },
      { hour: "2026-02-01T11", outcome: "success", n: 1 },
      { hour: "2026-02-01T12", outcome: "success", n: 1 },
    ]);
    expect(audit.pruneBefore("2026-02-01T11:00:00.000Z")).toBe(2);
    expect(audit.page({ newest: false, limit: 100 }).map((r) => r.at)).toEqual(["2026-02-01T11:05:00.000Z", "2026-02-01T11:40:00.000Z", "2026-02-01T12:00:00.000Z"]);
  });
});

describe("writeTransaction", () => {
  it("commits what fn wrote when it returns, rolls all of it back when it throws, and nests as a savepoint", () => {
    const tokens = new TokenStore(store);
    const row = (name: string) => ({ name, hash: "x", hint: "x", created: "2026-03-01T00:00:00.000Z" });
    expect(() =>
      writeTransaction(store, () => {
        tokens.add(row("t1"));
        throw new Error("stop");
      }),
    ).toThrow("stop");
    expect(tokens.has("t1")).toBe(false);
    writeTransaction(store, () => {
      tokens.add(row("t2"));
      expect(() => writeTransaction(store, () => (tokens.add(row("t3")), tokens.add(row("t3"))))).toThrow(); // the second is a duplicate
    });
    expect([tokens.has("t2"), tokens.has("t3")]).toEqual([true, false]);
  });
});
