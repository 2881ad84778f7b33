/**
 * Filter -> SQL on a real PostgreSQL (the test harness's, a database of this file's own, migrated
 * with migratePostgres and given scim_fold()): the shared corpus (filter-corpus.ts) through
 * db/filter-sql.ts's PostgreSQL dialect must return the ids each row names, which are also what
 * the in-memory matcher and SQLite (filter-sql.test.ts) return; sort keys order alike. Plus the
 * dateTime normalisation against match.ts normalizeDateTime, the key indexes in use, and the corpus
 * again in a second database whose default collation is ICU en-US (values inside `data` still
 * compare in code-point order; columns follow the database).
 */
import { asc, sql, type SQL } from "drizzle-orm";
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import { PgDialect } from "drizzle-orm/pg-core";
import { Client, Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { normalizeDateTimeSql } from "../../db/datetime-pg.js";
import { pgFilterDialect } from "../../db/filter-dialect-pg.js";
import { compileFilter, compileSortKey } from "../../db/filter-sql.js";
import { CREATE_PG_FOLD_FUNCTION } from "../../db/fold-pg.js";
import { migratePostgres } from "../../db/migrate-pg.js";
import { groupMembers, groups, userEmails, users } from "../../db/schema-pg.js";
import { FilterError } from "../../schemas/filter/ast.js";
import { normalizeDateTime } from "../../schemas/filter/match.js";
import { parseFilter } from "../../schemas/filter/parse.js";
import { fold } from "../../schemas/fold.js";
import type { ResourceKind } from "../../schemas/registry.js";
import { usePostgres } from "../harness/postgres.js";
import * as corpus from "./filter-corpus.js";

const pg = usePostgres();
const reg = corpus.corpusRegistry();
let pool: Pool;
let db: NodePgDatabase;

const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);

/** The rows db/resources.ts writes for a user: key columns filled with fold(), one user_emails row per email. */
async function insertUser(db: NodePgDatabase, u: corpus.UserRow): Promise<void> {
  const a = u.data;
  const userName = String(a.userName);
  const displayName = str(a.displayName);
  await db.insert(users).values({
    id: u.id,
    userName,
    userNameKey: fold(userName),
    externalId: str(a.externalId),
    displayNameKey: displayName === null ? null : fold(displayName),
    active: typeof a.active === "boolean" ? a.active : null,
    data: a,
    created: u.created,
    lastModified: u.created,
    version: 1,
  });
  const emails = (Array.isArray(a.emails) ? a.emails : []) as Record<string, unknown>[];
  const rows = emails.map((e, position) => {
    const value = str(e.value);
    return { userId: u.id, position, value, valueKey: value === null ? null : fold(value), type: str(e.type), primary: e.primary === true };
  });
  if (rows.length > 0) await db.insert(userEmails).values(rows);
}

/** Migrates the database at `url`, creates scim_fold() and writes the corpus into it. */
async function corpusDatabase(url: string): Promise<{ pool: Pool; db: NodePgDatabase }> {
  const pool = new Pool({ connectionString: url, max: 2 });
  await migratePostgres(pool);
  await pool.query(CREATE_PG_FOLD_FUNCTION);
  const db = drizzle({ client: pool });
  for (const u of corpus.USERS) await insertUser(db, u);
  for (const g of corpus.GROUPS) {
    const { id, displayName } = g;
    await db.insert(groups).values({ id, displayName, displayNameKey: fold(displayName), data: { displayName }, created: corpus.GROUP_CREATED, lastModified: corpus.GROUP_CREATED, version: 1 });
  }
  // After every resource exists, with members.display as db/resources.ts keeps it.
  for (const g of corpus.GROUPS) {
    for (const [memberId, memberType] of g.members) await db.insert(groupMembers).values({ groupId: g.id, memberId, memberType, display: corpus.memberDisplay(memberId) ?? null });
  }
  return { pool, db };
}

beforeAll(async () => {
  ({ pool, db } = await corpusDatabase(pg.url));
});

afterAll(async () => {
  await pool?.end();
});

const tableOf = (kind: ResourceKind) => (kind === "User" ? users : groups);

async function pgIds(kind: ResourceKind, filter: string, on = db): Promise<string[]> {
  const t = tableOf(kind);
  const where = compileFilter(reg, kind, parseFilter(filter), pgFilterDialect);
  return (await on.select({ id: t.id }).from(t).where(where).orderBy(asc(t.seq))).map((r) => r.id);
}

// SQLite sorts NULL first ascending; PostgreSQL needs NULLS FIRST to do the same.
async function sorted(kind: ResourceKind, sortBy: string, on = db): Promise<string[]> {
  const t = tableOf(kind);
  const key = compileSortKey(reg, kind, sortBy, pgFilterDialect);
  return (await on.select({ id: t.id }).from(t).orderBy(sql`${key} ASC NULLS FIRST`, asc(t.seq))).map((r) => r.id);
}

describe("PostgreSQL answers the corpus like the in-memory matcher (Users)", () => {
  it.each(corpus.USER_CASES)("%s", async (filter, expected) => {
    expect(await pgIds("User", filter)).toEqual(expected);
    expect(corpus.memoryIds(reg, "User", filter)).toEqual(expected);
  });
});

describe("PostgreSQL answers the corpus like the in-memory matcher (Groups)", () => {
  it.each(corpus.GROUP_CASES)("%s", async (filter, expected) => {
    expect(await pgIds("Group", filter)).toEqual(expected);
    expect(corpus.memoryIds(reg, "Group", filter)).toEqual(expected);
  });
});

describe("PostgreSQL dialect: what it rejects, and how values travel", () => {
  it.each(corpus.REJECT_CASES)("%s: %s", (kind, filter, message) => {
    expect(() => compileFilter(reg, kind, parseFilter(filter), pgFilterDialect)).toThrow(FilterError);
    expect(() => compileFilter(reg, kind, parseFilter(filter), pgFilterDialect)).toThrow(message);
  });

  it("binds values as parameters", () => {
    const where = compileFilter(reg, "User", parseFilter(`title eq "x' OR 1=1 --"`), pgFilterDialect);
    const { sql: text, params } = db.select({ id: users.id }).from(users).where(where).toSQL();
    expect(text).not.toContain("1=1");
    expect(params).toContain("x' or 1=1 --");
  });

  it("answers a long flat chain", async () => {
    const terms: string[] = [];
    while ([...terms, 'userName ne "n000"'].join(" and ").length <= 4096) terms.push(`userName ne "n${terms.length}"`);
    expect(await pgIds("User", terms.join(" and "))).toEqual(corpus.USERS.map((u) => u.id));
  });
});

describe("compileSortKey on PostgreSQL", () => {
  it.each(corpus.SORT_CASES)("%s sortBy %s", async (kind, sortBy, expected) => {
    expect(await sorted(kind, sortBy)).toEqual(expected);
  });

  // Listed with SQLite's order in the corpus (wrong JSON types, a group's first member).
  it.each(corpus.SORT_KNOWN_DIFFERENCES)("$kind sortBy $sortBy (a known difference)", async ({ kind, sortBy, postgresql }) => {
    expect(await sorted(kind, sortBy)).toEqual(postgresql);
  });
});

describe("dateTime normalisation in PostgreSQL equals normalizeDateTime", () => {
  const SAME = [
    "2019-06-01T10:00:00+02:00", "2021-01-15T00:00:00Z", "2024-03-01T10:00:00.000Z", "2024-02-29", "1970-01-01",
    "2024-01-01 10:00", "2024-01-01t10:00:00.123456789z", "2024-01-01T10:00:00.9999999Z", "2024-01-01T10:00:00.5-00:30",
    // Rolled over by Date.parse with an offset, refused in UTC (match.ts).
    "2024-04-31T10:00:00+01:00", "2024-02-30T00:00:00+02:00", "2024-02-30T00:00:00Z", "2024-02-30", "2023-02-29",
    "2024-12-31T23:30:00-01:00", "2024-01-01T24:00:00+01:00", "2024-01-01T24:00:00.0001+01:00", "2024-01-01T24:00:00Z",
    "2024-01-01T10:00:00+23:59", "2024-01-01T10:00:00+16:00",
    // Not dates: NULL, never an error.
    "2024-13-01", "2024-00-10", "2024-01-00", "2024-01-32", "2024-01-01T24:00:00.001+01:00", "2024-01-01T24:01+01:00",
    "2024-01-01T23:60:00Z", "2024-01-01T23:59:60Z", "2024-01-01T10:00:00+24:00", "2024-01-01T10:00:00-15:60",
    "2024-01-01T10", "2024-1-01", "99999-01-01", "yesterday", "",
  ];
  /** Instants before year 1 or after 9999: match.ts keeps them ("+010000-…"), PostgreSQL says NULL. */
  const KNOWN: [string, string, null][] = [
    ["0000-01-01T00:00:00Z", "0000-01-01T00:00:00.000Z", null],
    ["0001-01-01T00:30:00+01:00", "0000-12-31T23:30:00.000Z", null],
    ["9999-12-31T23:00:00-02:00", "+010000-01-01T01:00:00.000Z", null],
  ];

  async function normalized(values: string[]): Promise<(string | null)[]> {
    const q = new PgDialect().sqlToQuery(
      sql`SELECT ${normalizeDateTimeSql(sql`"v"`)} AS "n" FROM jsonb_array_elements_text(${JSON.stringify(values)}::jsonb) WITH ORDINALITY AS "x"("v", "i") ORDER BY "i"`,
    );
    return (await pool.query<{ n: string | null }>(q.sql, q.params)).rows.map((r) => r.n);
  }

  it("on dates, rollovers and non-dates", async () => {
    expect(await normalized(SAME)).toEqual(SAME.map((s) => normalizeDateTime(s) ?? null));
  });

  it("except instants outside years 1-9999", async () => {
    expect(KNOWN.map(([s]) => normalizeDateTime(s))).toEqual(KNOWN.map(([, js]) => js));
    expect(await normalized(KNOWN.map(([s]) => s))).toEqual(KNOWN.map(([, , p]) => p));
  });
});

describe("PostgreSQL query plans use the key indexes", () => {
  // Seven rows are read faster without an index, so sequential scans are priced out for the plan.
  async function plan(filter: string): Promise<string> {
    const where: SQL = compileFilter(reg, "User", parseFilter(filter), pgFilterDialect);
    const q = new PgDialect().sqlToQuery(sql`EXPLAIN SELECT ${users.id} FROM ${users} WHERE ${where}`);
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      await client.query("SET LOCAL enable_seqscan = off");
      const rows = (await client.query<{ "QUERY PLAN": string }>(q.sql, q.params)).rows;
      return rows.map((r) => r["QUERY PLAN"]).join("\n");
    } finally {
      await client.query("ROLLBACK");
      client.release();
    }
  }

  it.each([
    ['userName eq "ALICE"', /users_user_name_key/],
    ['emails.value eq "alice@work.example"', /user_emails_value_key/],
    ['emails eq "alice@work.example"', /user_emails_value_key/],
    // The NULL guard on a nullable column leaves `=` for the index.
    ['externalId eq "ext-1"', /users_external_id/],
    ['displayName eq "bob"', /users_display_name_key/],
    ['meta.lastModified gt "2024-07-01T00:00:00Z"', /users_last_modified/],
  ] as const)("%s uses %s", async (filter, index) => {
    expect(await plan(filter)).toMatch(index);
  });
});

describe("in a database whose default collation is ICU en-US", () => {
  // Values read from `data` compare and sort under COLLATE "C" whatever the database's collation;
  // columns follow the database's, which is why it must be "C" (db/filter-dialect-pg.ts).
  let icu: { pool: Pool; db: NodePgDatabase } | undefined;
  beforeAll(async () => {
    const admin = new Client({ connectionString: pg.server.url });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE "t_icu" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'`);
    } finally {
      await admin.end();
    }
    const url = new URL(pg.server.url);
    url.pathname = "/t_icu";
    icu = await corpusDatabase(url.toString());
  });
  afterAll(async () => {
    await icu?.pool.end();
  });

  it.each(corpus.USER_CASES)("%s", async (filter, expected) => {
    expect(await pgIds("User", filter, icu!.db)).toEqual(expected);
  });

  it.each(["title", "nickName", `${corpus.ENT}:employeeNumber`])("sortBy %s (JSON) in code-point order", async (sortBy) => {
    expect(await sorted("User", sortBy, icu!.db)).toEqual(corpus.SORT_CASES.find(([k, s]) => k === "User" && s === sortBy)![2]);
  });

  it("sortBy userName (a key column) in the database's order: émile before i̇lkay", async () => {
    expect(await sorted("User", "userName", icu!.db)).toEqual(["u1", "u2", "u7", "u4", "u3", "u6", "u5"]);
  });
});
