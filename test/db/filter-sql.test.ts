/**
 * Filter -> SQL against a real SQLite file. The shared table of filters (filter-corpus.ts) drives
 * both the SQL compiler and the in-memory matcher over the same rows, so the two are proven to
 * agree, and each row also names the ids it must return; filter-sql-pg.test.ts holds PostgreSQL to
 * the same table.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asc, sql, type SQL } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileFilter, compileSortKey } from "../../db/filter-sql.js";
import { fold } from "../../schemas/fold.js";
import { openStore, type SqliteStore } from "../../db/open.js";
import { groups, userEmails, users } from "../../db/schema.js";
import { FilterError } from "../../schemas/filter/ast.js";
import { parseFilter } from "../../schemas/filter/parse.js";
import type { ResourceKind } from "../../schemas/registry.js";
import {
  ALL_USERS,
  GROUP_CASES,
  GROUP_CREATED,
  GROUPS,
  REJECT_CASES,
  SORT_CASES,
  SORT_KNOWN_DIFFERENCES,
  USER_CASES,
  USERS,
  corpusRegistry,
  memoryIds,
} from "./filter-corpus.js";

const reg = corpusRegistry();
let dir: string;
let store: SqliteStore;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scimbridge-filter-"));
  store = openStore(join(dir, "t.db"));
  const { db } = store;
  for (const u of USERS) {
    const a = u.data;
    const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : null);
    db.insert(users)
      .values({
        id: u.id,
        userName: String(a.userName),
        userNameKey: fold(String(a.userName)),
        externalId: str(a.externalId),
        displayNameKey: str(a.displayName) === null ? null : fold(String(a.displayName)),
        active: typeof a.active === "boolean" ? a.active : null,
        data: JSON.stringify(a),
        created: u.created,
        lastModified: u.created,
        version: 1,
      })
      .run();
    const emails = (Array.isArray(a.emails) ? a.emails : []) as Record<string, unknown>[];
    emails.forEach((e, position) => {
      const value = str(e.value);
      db.insert(userEmails)
        .values({ userId: u.id, position, value, valueKey: value && fold(value), type: str(e.type), primary: e.primary === true })
        .run();
    });
  }
  for (const g of GROUPS) {
    const data = JSON.stringify({ displayName: g.displayName });
    db.insert(groups)
      .values({ id: g.id, displayName: g.displayName, displayNameKey: fold(g.displayName), data, created: GROUP_CREATED, lastModified: GROUP_CREATED, version: 1 })
      .run();
  }
  // Through the store's own insert: members.display is written with the row (db/resources.ts).
  await store.transaction(async (tx) => {
    for (const g of GROUPS) await tx.resources.addMembers(g.id, g.members.map(([id, type]) => ({ id, type })));
  });
});

afterAll(async () => {
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function sqlIds(kind: ResourceKind, where: SQL): string[] {
  const t = kind === "User" ? users : groups;
  return store.db.select({ id: t.id }).from(t).where(where).orderBy(asc(t.seq)).all().map((r) => r.id);
}

function bothIds(kind: ResourceKind, filter: string): { sql: string[]; memory: string[] } {
  return { sql: sqlIds(kind, compileFilter(reg, kind, parseFilter(filter))), memory: memoryIds(reg, kind, filter) };
}

describe("compileFilter agrees with matchesFilter (Users)", () => {
  it.each(USER_CASES)("%s", (filter, expected) => {
    const got = bothIds("User", filter);
    expect(got.sql).toEqual(expected);
    expect(got.memory).toEqual(expected);
  });
});

describe("compileFilter agrees with matchesFilter (Groups)", () => {
  it.each(GROUP_CASES)("%s", (filter, expected) => {
    const got = bothIds("Group", filter);
    expect(got.sql).toEqual(expected);
    expect(got.memory).toEqual(expected);
  });
});

describe("compileFilter rejects what it cannot answer", () => {
  it.each(REJECT_CASES)("%s: %s", (kind, filter, message) => {
    expect(() => compileFilter(reg, kind, parseFilter(filter))).toThrow(FilterError);
    expect(() => compileFilter(reg, kind, parseFilter(filter))).toThrow(message);
  });

  it("binds values as parameters", () => {
    const q = store.db.select({ id: users.id }).from(users).where(compileFilter(reg, "User", parseFilter(`userName eq "x' OR 1=1 --"`)));
    const { sql: text, params } = q.toSQL();
    expect(text).not.toContain("1=1");
    expect(params).toContain("x' or 1=1 --");
  });

  it("answers a long flat chain within SQLite's expression depth", () => {
    const terms: string[] = [];
    while ([...terms, "userName ne \"n000\""].join(" and ").length <= 4096) terms.push(`userName ne "n${terms.length}"`);
    expect(terms.length).toBeGreaterThan(150);
    expect(sqlIds("User", compileFilter(reg, "User", parseFilter(terms.join(" and "))))).toEqual(ALL_USERS);
  });
});

describe("compileSortKey", () => {
  const sorted = (kind: ResourceKind, sortBy: string) => {
    const t = kind === "User" ? users : groups;
    const key = compileSortKey(reg, kind, sortBy);
    return store.db.select({ id: t.id }).from(t).orderBy(asc(key), asc(t.seq)).all().map((r) => r.id);
  };
  it.each(SORT_CASES)("%s sortBy %s", (kind, sortBy, expected) => {
    expect(sorted(kind, sortBy)).toEqual(expected);
  });

  // Listed with PostgreSQL's order in the corpus (wrong JSON types, a group's first member).
  it.each(SORT_KNOWN_DIFFERENCES)("$kind sortBy $sortBy (a known difference)", ({ kind, sortBy, sqlite }) => {
    expect(sorted(kind, sortBy)).toEqual(sqlite);
  });

  it("rejects unknown and unsortable attributes", () => {
    expect(() => compileSortKey(reg, "User", "nope")).toThrow(FilterError);
    expect(() => compileSortKey(reg, "User", "meta.location")).toThrow(/Cannot sort by/);
  });
});

describe("query plans use the key indexes", () => {
  const plan = (filter: string) =>
    store.db
      .all<{ detail: string }>(sql`EXPLAIN QUERY PLAN SELECT ${users.id} FROM ${users} WHERE ${compileFilter(reg, "User", parseFilter(filter))}`)
      .map((r) => r.detail)
      .join("\n");

  it("userName eq uses users_user_name_key", () => {
    expect(plan('userName eq "ALICE"')).toMatch(/users_user_name_key/);
  });
  it("emails.value eq uses user_emails_value_key", () => {
    expect(plan('emails.value eq "alice@work.example"')).toMatch(/user_emails_value_key/);
  });
  it("emails eq uses user_emails_value_key", () => {
    expect(plan('emails eq "alice@work.example"')).toMatch(/user_emails_value_key/);
  });
  it("externalId eq uses users_external_id", () => {
    expect(plan('externalId eq "ext-1"')).toMatch(/users_external_id/);
  });
});
