/**
 * The delivery side of the store on both engines: one behaviour suite run over SQLite's query
 * objects (openStore on a temp file, writes inside store.transaction) and PostgreSQL's (db/pg/,
 * built on drizzle over the harness's PostgreSQL, migrated with migratePostgres; writes inside a
 * BEGIN/COMMIT on one pooled client). Each test starts from an empty database and expects the same
 * answers from both: the outbox cursor and batches, sync state's pending/due/update/DN bookkeeping,
 * pending secrets, known rules, membership sync and repairs, repair requests, the operators'
 * status view and entry tombstones. Resources and outbox rows are seeded with plain SQL.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { drizzle } from "drizzle-orm/node-postgres";
import { Pool } from "pg";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { migratePostgres } from "../../db/migrate-pg.js";
import { openStore, type SqliteStore } from "../../db/open.js";
import { PgMemberRepairs } from "../../db/pg/member-repairs.js";
import { PgMemberSyncQueries } from "../../db/pg/member-sync.js";
import type { PgDb } from "../../db/pg/pg-db.js";
import { PgRepairRequests } from "../../db/pg/repair-requests.js";
import { PgSyncStatusStore } from "../../db/pg/sync-status.js";
import { PgSyncQueries } from "../../db/pg/sync.js";
import { PgTombstones } from "../../db/pg/tombstones.js";
import * as pgSchema from "../../db/schema-pg.js";
import type { MemberRepairStore, MemberSyncStore, RepairStore, SyncStatusView, SyncStore, TombstoneStore } from "../../db/store.js";
import type { SyncStateRow } from "../../db/sync.js";
import type { Tombstone } from "../../db/tombstones.js";
import { usePostgres } from "../harness/postgres.js";

type Holding = SyncStateRow & { dn: string };
/** SyncStore, but rowsHoldingDns streamed either way (SQLite's is a Generator, PostgreSQL's an AsyncGenerator). */
type SyncUnderTest = Omit<SyncStore, "rowsHoldingDns"> & { rowsHoldingDns(...a: Parameters<SyncStore["rowsHoldingDns"]>): Iterable<Holding> | AsyncIterable<Holding> };

interface Queries {
  sync: SyncUnderTest;
  memberSync: MemberSyncStore;
  memberRepairs: MemberRepairStore;
  repairs: RepairStore;
  syncStatus: SyncStatusView;
  tombstones: TombstoneStore;
}

type Exec = (text: string, params?: unknown[]) => Promise<void>;

interface Engine {
  /** The query objects outside a transaction. */
  read: Queries;
  /** Runs `fn` in a write transaction, given the transaction's query objects and plain SQL on its connection. */
  write<T>(fn: (q: Queries, exec: Exec) => Promise<T>): Promise<T>;
  /** Plain SQL with `?` parameters, in a transaction of its own (seeding). */
  exec: Exec;
  /** The rows of a plain SQL query, outside any transaction. */
  rows(text: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

const pg = usePostgres();
let pool: Pool | undefined;
const dir = mkdtempSync(join(tmpdir(), "scimbridge-sync-engines-"));
let files = 0;
afterAll(async () => {
  await pool?.end();
  rmSync(dir, { recursive: true, force: true });
});

function sqliteEngine(): Engine {
  const store: SqliteStore = openStore(join(dir, `scim-${++files}.db`));
  return {
    read: store,
    write: (fn) => store.transaction((tx) => fn(tx, async (text, params = []) => void store.sqlite.prepare(text).run(...params))),
    exec: (text, params = []) => store.transaction(async () => void store.sqlite.prepare(text).run(...params)),
    rows: async (text, params = []) => store.sqlite.prepare(text).all(...params) as Record<string, unknown>[],
    close: () => store.close(),
  };
}

const TABLES = "changes, sync_state, group_member_sync, group_members, user_emails, groups, users, pending_secrets, worker_cursor, known_rules, entry_tombstones";

/** `?` parameters as PostgreSQL's `$1, $2, …`. */
function numbered(text: string): string {
  let i = 0;
  return text.replace(/\?/g, () => `$${++i}`);
}

async function postgresEngine(): Promise<Engine> {
  if (!pool) {
    pool = new Pool({ connectionString: pg.url, max: 4 });
    await migratePostgres(pool);
  }
  const p = pool;
  await p.query(`TRUNCATE ${TABLES} RESTART IDENTITY`);
  const write = async <T,>(fn: (q: Queries, exec: Exec) => Promise<T>): Promise<T> => {
    const client = await p.connect();
    try {
      await client.query("BEGIN");
      const result = await fn(queriesOn(drizzle(client, { schema: pgSchema })), async (text, params = []) => void (await client.query(numbered(text), params)));
      await client.query("COMMIT");
      return result;
    } catch (e) {
      await client.query("ROLLBACK");
      throw e;
    } finally {
      client.release();
    }
  };
  const queriesOn = (db: PgDb): Queries => ({
    sync: new PgSyncQueries(db),
    memberSync: new PgMemberSyncQueries(db),
    memberRepairs: new PgMemberRepairs(db),
    repairs: new PgRepairRequests(db, { transaction: write }),
    syncStatus: new PgSyncStatusStore(db),
    tombstones: new PgTombstones(db),
  });
  return {
    read: queriesOn(drizzle(p, { schema: pgSchema })),
    write,
    exec: async (text, params = []) => void (await p.query(numbered(text), params)),
    rows: async (text, params = []) => (await p.query(numbered(text), params)).rows as Record<string, unknown>[],
    close: async () => undefined,
  };
}

const at = "2026-12-06T10:00:00.000Z";
const later = "2026-12-06T11:00:00.000Z";

/** Seeding with plain SQL that both engines take (the resource queries are tested elsewhere). */
const seed = (e: Engine) => ({
  user: (id: string, version = 1) =>
    e.exec("INSERT INTO users (id, user_name, user_name_key, data, created, last_modified, version) VALUES (?, ?, ?, '{}', ?, ?, ?)", [id, id, id, at, at, version]),
  group: (id: string, version = 1) =>
    e.exec("INSERT INTO groups (id, display_name, display_name_key, data, created, last_modified, version) VALUES (?, ?, ?, '{}', ?, ?, ?)", [id, id, id, at, at, version]),
  member: (groupId: string, memberId: string, type = "User") => e.exec("INSERT INTO group_members (group_id, member_id, member_type) VALUES (?, ?, ?)", [groupId, memberId, type]),
  change: (kind: string, id: string, op: string, c: { before?: object; after?: object; added?: string[]; removed?: string[]; at?: string } = {}) =>
    e.exec("INSERT INTO changes (resource_type, resource_id, op, version, at, before, after, members_added, members_removed) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?)", [
      kind,
      id,
      op,
      c.at ?? at,
      c.before ? JSON.stringify(c.before) : null,
      c.after ? JSON.stringify(c.after) : null,
      c.added ? JSON.stringify(c.added) : null,
      c.removed ? JSON.stringify(c.removed) : null,
    ]),
});

/** A sync_state row as markPending makes it, then the given columns written. */
async function row(e: Engine, kind: string, id: string, rule: string, set: Partial<SyncStateRow> = {}, target = "ldap", seq = 1): Promise<void> {
  await e.write(async ({ sync }) => {
    await sync.markPending(kind, id, rule, target, seq, at);
    await sync.update(kind, id, rule, set);
  });
}

const keys = (rows: Pick<SyncStateRow, "resourceType" | "resourceId" | "rule">[]) => rows.map((r) => `${r.resourceType}:${r.resourceId}:${r.rule}`);
const sorted = <T,>(xs: T[]) => [...xs].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
async function all<T>(it: Iterable<T> | AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe.each([["SQLite", async () => sqliteEngine()], ["PostgreSQL", postgresEngine]] as const)("the delivery store on %s", (_name, open) => {
  let e: Engine;
  beforeEach(async () => {
    e = await open();
  });
  afterEach(async () => {
    await e.close();
  });

  describe("the outbox", () => {
    it("keeps the fan-out cursor, the newest seq and when each change was made", async () => {
      expect(await e.read.sync.outboxPosition()).toEqual({ cursor: 0, newest: 0 });
      await seed(e).change("User", "u1", "create", { at });
      await seed(e).change("User", "u2", "create", { at: later });
      await e.write(({ sync }) => sync.setCursor(1));
      expect(await e.read.sync.outboxPosition()).toEqual({ cursor: 1, newest: 2 });
      await e.write(({ sync }) => sync.setCursor(2));
      expect(await e.read.sync.cursor()).toBe(2);
      expect(await e.read.sync.changedAt(2)).toBe(later);
      expect(await e.read.sync.changedAt(3)).toBeUndefined();
    });

    it("batches changes: each resource once with its newest seq, group changes in order with member deltas and displayName", async () => {
      const s = seed(e);
      await s.change("Group", "g1", "create", { after: { displayName: "Team" }, added: ["u1", "u2"] });
      await s.change("User", "u1", "update", { before: { displayName: "A" }, after: { displayName: "B" } });
      await s.change("Group", "g1", "update", { before: { displayName: "Team" }, after: { displayName: "Team B" }, added: ["u3"], removed: ["u1"] });
      await s.change("User", "u1", "delete", { before: { displayName: "B" }, removed: ["x"] });
      await e.write(({ sync }) => sync.refreshGroup("g2", ["u4"], at));
      const batch = await e.read.sync.changedSince(0, 10);
      expect(batch.upTo).toBe(5);
      expect(batch.rows).toEqual([{ kind: "Group", id: "g1", seq: 3 }, { kind: "User", id: "u1", seq: 4 }, { kind: "Group", id: "g2", seq: 5 }]);
      expect(batch.groupChanges).toEqual([
        { seq: 1, id: "g1", op: "create", membersAdded: '["u1","u2"]', membersRemoved: null, displayBefore: null, displayAfter: "Team" },
        { seq: 3, id: "g1", op: "update", membersAdded: '["u3"]', membersRemoved: '["u1"]', displayBefore: "Team", displayAfter: "Team B" },
        { seq: 5, id: "g2", op: "refresh", membersAdded: '["u4"]', membersRemoved: null, displayBefore: null, displayAfter: null },
      ]);
      expect(await e.read.sync.changedSince(1, 2)).toMatchObject({ upTo: 3, rows: [{ kind: "User", id: "u1", seq: 2 }, { kind: "Group", id: "g1", seq: 3 }] });
      expect(await e.read.sync.changedSince(5, 10)).toEqual({ upTo: 5, rows: [], groupChanges: [] });
    });
  });

  describe("sync state", () => {
    it("markPending makes a pending row, never moves wanted_seq back, and clears a permanent failure", async () => {
      await e.write(({ sync }) => sync.markPending("User", "u1", "people", "ldap", 5, at));
      const fresh = await e.read.sync.get("User", "u1", "people");
      expect(fresh).toEqual({
        resourceType: "User", resourceId: "u1", rule: "people", target: "ldap", state: "pending", wantedSeq: 5, deliveredSeq: 0,
        dn: null, dnKey: null, directoryId: null, written: null, attempts: 0, lastAttempt: null, nextAttempt: null, lastCode: null, lastError: null,
        secret: null, waitingFor: null, updated: at,
      });
      await e.write(({ sync }) => sync.update("User", "u1", "people", { state: "failed", attempts: 5, nextAttempt: later, lastCode: 19, dn: "uid=u1" }));
      await e.write(({ sync }) => sync.markPending("User", "u1", "people", "ldap2", 3, later));
      expect(await e.read.sync.get("User", "u1", "people")).toEqual({ ...fresh, state: "pending", wantedSeq: 5, target: "ldap2", attempts: 0, nextAttempt: null, lastCode: 19, dn: "uid=u1", updated: later });
      await e.write(({ sync }) => sync.markPending("User", "u1", "people", "ldap2", 9, later));
      expect((await e.read.sync.get("User", "u1", "people"))?.wantedSeq).toBe(9);
    });

    it("update writes only the columns given, undefined ones and an empty set leaving the row as it was", async () => {
      await row(e, "User", "u1", "people", { dn: "uid=u1", dnKey: "uid=u1", written: '{"cn":"x"}', lastError: "boom" });
      const before = (await e.read.sync.get("User", "u1", "people"))!;
      await e.write(({ sync }) => sync.update("User", "u1", "people", { state: "in_sync", deliveredSeq: 1, lastError: null, dn: undefined }));
      expect(await e.read.sync.get("User", "u1", "people")).toEqual({ ...before, state: "in_sync", deliveredSeq: 1, lastError: null });
      await e.write(({ sync }) => sync.update("User", "u1", "people", {}));
      await e.write(({ sync }) => sync.setSecret("User", "u1", "people", "sealed"));
      expect(await e.read.sync.get("User", "u1", "people")).toEqual({ ...before, state: "in_sync", deliveredSeq: 1, lastError: null, secret: "sealed" });
      expect(await e.read.sync.get("User", "u1", "other")).toBeUndefined();
    });

    it("due: pending rows oldest change first, then retrying rows whose time has come, only of the rules asked, up to the limit", async () => {
      // Ids and insertion order both disagree with the change order.
      await row(e, "User", "a9", "people", {}, "ldap", 9);
      await row(e, "User", "x2", "people", {}, "ldap", 2);
      await row(e, "Group", "m5", "groups", {}, "ldap", 5);
      await row(e, "User", "other", "elsewhere", {}, "ldap", 1);
      await row(e, "User", "done", "people", { state: "in_sync" }, "ldap", 1);
      await row(e, "User", "r2", "people", { state: "retrying", nextAttempt: "2026-12-06T10:02:00.000Z" });
      await row(e, "User", "r1", "people", { state: "retrying", nextAttempt: "2026-12-06T10:01:00.000Z" });
      await row(e, "User", "rnull", "people", { state: "retrying", nextAttempt: null });
      await row(e, "User", "rlater", "people", { state: "retrying", nextAttempt: later });
      const now = "2026-12-06T10:30:00.000Z";
      expect(keys(await e.read.sync.due(now, ["people", "groups"], 10))).toEqual(["User:x2:people", "Group:m5:groups", "User:a9:people", "User:rnull:people", "User:r1:people", "User:r2:people"]);
      expect(keys(await e.read.sync.due(now, ["people", "groups"], 2))).toEqual(["User:x2:people", "Group:m5:groups"]);
      expect(keys(await e.read.sync.due(now, ["people"], 4))).toEqual(["User:x2:people", "User:a9:people", "User:rnull:people", "User:r1:people"]);
      expect(keys(await e.read.sync.due(later, ["people"], 10)).slice(-1)).toEqual(["User:rlater:people"]);
      expect(await e.read.sync.due(now, [], 10)).toEqual([]);
    });

    it("dnHolder, entriesOf and waitingAt find who holds or waits for a DN on a target", async () => {
      await row(e, "User", "old", "people", { dn: "uid=x", dnKey: "uid=x", state: "retrying" });
      await row(e, "User", "new", "people", { dnKey: "uid=x" });
      await row(e, "User", "new", "admins", { dn: "uid=x", dnKey: "uid=x", state: "in_sync" });
      await row(e, "User", "far", "people", { dn: "uid=x", dnKey: "uid=x" }, "ldap2");
      expect((await e.read.sync.dnHolder("ldap", "uid=x", "User", "new"))?.resourceId).toBe("old");
      expect(await e.read.sync.dnHolder("ldap", "uid=y", "User", "new")).toBeUndefined();
      expect(await e.read.sync.dnHolder("ldap2", "uid=x", "User", "far")).toBeUndefined();
      expect(await e.read.sync.entriesOf("User", "new", "ldap")).toEqual([{ rule: "admins", dn: "uid=x", state: "in_sync" }]);
      expect(await e.read.sync.waitingAt("User", "ldap", "uid=x", "admins")).toBe(true);
      expect(await e.read.sync.waitingAt("User", "ldap", "uid=x", "people")).toBe(false);
      expect(await e.read.sync.waitingAt("Group", "ldap", "uid=x", "admins")).toBe(false);
      await e.write(({ sync }) => sync.update("User", "old", "people", { state: "in_sync" }));
      await e.write(({ sync }) => sync.update("User", "new", "people", { state: "failed" }));
      expect(await e.read.sync.waitingAt("User", "ldap", "uid=x", "admins")).toBe(false);
    });

    it("wakeWaitingFor makes the waiting rows pending again; retryNow retries one resource's retrying rows on a target now", async () => {
      await row(e, "User", "w1", "people", { state: "retrying", waitingFor: "User:old:people", attempts: 2, nextAttempt: later });
      await row(e, "User", "w2", "admins", { state: "retrying", waitingFor: "User:old:people", attempts: 1, nextAttempt: later });
      await row(e, "User", "w3", "people", { state: "retrying", waitingFor: "User:else:people", nextAttempt: later });
      expect(await e.write(({ sync }) => sync.wakeWaitingFor("User:old:people", later))).toBe(2);
      expect(await e.read.sync.get("User", "w1", "people")).toMatchObject({ state: "pending", waitingFor: null, attempts: 0, nextAttempt: null, updated: later });
      expect(await e.read.sync.get("User", "w3", "people")).toMatchObject({ state: "retrying", waitingFor: "User:else:people" });
      await row(e, "User", "r", "people", { state: "retrying", attempts: 3, nextAttempt: later });
      await row(e, "User", "r", "admins", { state: "failed" });
      await row(e, "User", "r", "far", { state: "retrying", nextAttempt: later }, "ldap2");
      expect(await e.write(({ sync }) => sync.retryNow("User", "r", "ldap", later))).toBe(1);
      expect(await e.read.sync.get("User", "r", "people")).toMatchObject({ state: "pending", attempts: 3, nextAttempt: null, updated: later });
      expect((await e.read.sync.get("User", "r", "admins"))?.state).toBe("failed");
      expect((await e.read.sync.get("User", "r", "far"))?.state).toBe("retrying");
    });

    it("rows holding a DN are streamed past a page, without a kind, of a rule or of a target's other rules", async () => {
      const values = Array.from({ length: 1205 }, (_, i) => `('User', 'u${String(i).padStart(4, "0")}', 'people', 'ldap', 'in_sync', 1, 'uid=${i}', '${at}')`);
      await e.exec(`INSERT INTO sync_state (resource_type, resource_id, rule, target, state, wanted_seq, dn, updated) VALUES ${values.join(", ")}`);
      await row(e, "Entry", "uid=stray", "people", { dn: "uid=stray" });
      await row(e, "User", "nodn", "people");
      await row(e, "Group", "g1", "groups", { dn: "cn=g1" });
      await row(e, "Group", "g2", "groups", { dn: "cn=g2" }, "ldap2");
      const ofRule = await all(e.read.sync.rowsHoldingDns("Entry", { rule: "people" }));
      expect(ofRule.map((r) => r.resourceId)).toEqual(Array.from({ length: 1205 }, (_, i) => `u${String(i).padStart(4, "0")}`));
      const others = await all(e.read.sync.rowsHoldingDns("Entry", { target: "ldap", exceptRule: "people" }));
      expect(others.map((r) => [r.resourceId, r.dn])).toEqual([["g1", "cn=g1"]]);
      // Without a dn_key: every row holding a DN but the one given its key, up to the limit.
      await e.write(({ sync }) => sync.update("Group", "g1", "groups", { dnKey: "cn=g1" }));
      const keyless = await e.read.sync.rowsWithoutDnKey(5000);
      expect(keyless).toHaveLength(1207);
      expect(sorted(keyless.filter((r) => !/^u\d/.test(r.resourceId)))).toEqual(
        sorted([{ resourceType: "Entry", resourceId: "uid=stray", rule: "people", dn: "uid=stray" }, { resourceType: "Group", resourceId: "g2", rule: "groups", dn: "cn=g2" }]),
      );
      expect(await e.read.sync.rowsWithoutDnKey(3)).toHaveLength(3);
    });

    it("remove, hasRowsOf, rowsOfRule, counts and pendingUpTo (capped, without excepted targets)", async () => {
      await row(e, "User", "a", "people");
      await row(e, "User", "b", "people");
      await row(e, "User", "c", "people", {}, "ldap2");
      await row(e, "User", "d", "people", { state: "in_sync" });
      await row(e, "Group", "g", "groups", { state: "retrying" }, "ldap2");
      expect(sorted(await e.read.sync.counts())).toEqual(sorted([
        { rule: "people", target: "ldap", state: "pending", n: 2 },
        { rule: "people", target: "ldap2", state: "pending", n: 1 },
        { rule: "people", target: "ldap", state: "in_sync", n: 1 },
        { rule: "groups", target: "ldap2", state: "retrying", n: 1 },
      ]));
      expect(await e.read.sync.pendingUpTo(10)).toBe(3);
      expect(await e.read.sync.pendingUpTo(2)).toBe(2);
      expect(await e.read.sync.pendingUpTo(10, ["ldap2"])).toBe(2);
      expect(await e.read.sync.pendingUpTo(10, ["ldap", "ldap2"])).toBe(0);
      expect(keys(await e.read.sync.rowsOfRule("people")).sort()).toEqual(["User:a:people", "User:b:people", "User:c:people", "User:d:people"]);
      await e.write(({ sync }) => sync.remove("Group", "g", "groups"));
      expect(await e.read.sync.hasRowsOf("groups")).toBe(false);
      expect(await e.read.sync.hasRowsOf("people")).toBe(true);
    });

    it("pending secrets are replaced, taken once, and gone", async () => {
      await e.write(({ sync }) => sync.putPendingSecret("u1", "one", at));
      await e.write(({ sync }) => sync.putPendingSecret("u1", "two", later));
      expect(await e.write(({ sync }) => sync.takePendingSecret("u1"))).toBe("two");
      expect(await e.write(({ sync }) => sync.takePendingSecret("u1"))).toBeUndefined();
    });

    it("known rules round trip: remembered, updated, forgotten", async () => {
      await e.write(async ({ sync }) => {
        await sync.rememberRule("people", "User", "ldap", { base: "ou=people" }, at);
        await sync.rememberRule("groups", "Group", "ldap", { base: "ou=groups" }, at);
        await sync.rememberRule("people", "User", "ldap2", { base: "ou=staff", n: [1] }, later);
      });
      expect(sorted(await e.read.sync.knownRules())).toEqual(sorted([
        { name: "people", kind: "User", target: "ldap2", config: '{"base":"ou=staff","n":[1]}' },
        { name: "groups", kind: "Group", target: "ldap", config: '{"base":"ou=groups"}' },
      ]));
      await e.write(({ sync }) => sync.forgetRule("people"));
      expect((await e.read.sync.knownRules()).map((r) => r.name)).toEqual(["groups"]);
    });
  });

  describe("membership sync", () => {
    const dirty = async (rule: string, group: string) => sorted(await e.read.memberSync.dirtyRows(rule, group, -1));

    it("a mark bumps the pair's generation and keeps an eviction asked for; dirtyRows reads up to a limit (-1: all)", async () => {
      await e.write(async ({ memberSync }) => {
        await memberSync.markDirty("gr", "g1", "u1");
        await memberSync.markDirty("gr", "g1", "u2", true);
        await memberSync.markDirty("gr", "g1", "u2");
        await memberSync.markDirty("gr", "g2", "u3");
      });
      expect(await dirty("gr", "g1")).toEqual([{ memberId: "u1", dn: null, dirty: 1, evict: false }, { memberId: "u2", dn: null, dirty: 2, evict: true }]);
      expect(await e.read.memberSync.dirtyRows("gr", "g1", 1)).toHaveLength(1);
      expect(await e.read.memberSync.dirtyRows("other", "g1", -1)).toEqual([]);
    });

    it("settle clears only the generation it read: a mark made while a delivery ran is not lost", async () => {
      await e.write(({ memberSync }) => memberSync.markDirty("gr", "g1", "u1", true));
      const [read] = await e.read.memberSync.dirtyRows("gr", "g1", -1);
      await e.write(({ memberSync }) => memberSync.markDirty("gr", "g1", "u1"));
      await e.write(({ memberSync }) => memberSync.settle("gr", "g1", read!, "uid=u1"));
      expect(await dirty("gr", "g1")).toEqual([{ memberId: "u1", dn: "uid=u1", dirty: 2, evict: true }]);
      const [again] = await e.read.memberSync.dirtyRows("gr", "g1", -1);
      await e.write(({ memberSync }) => memberSync.settle("gr", "g1", again!, "uid=u1"));
      expect(await dirty("gr", "g1")).toEqual([]);
      expect(await e.read.memberRepairs.writtenMembers("gr", "g1")).toEqual([{ id: "u1", dn: "uid=u1" }]);
      // The value removed: the pair goes when nobody re-marked it, and only forgets its value when someone did.
      await e.write(({ memberSync }) => memberSync.markDirty("gr", "g1", "u1", true));
      const [leaving] = await e.read.memberSync.dirtyRows("gr", "g1", -1);
      await e.write(({ memberSync }) => memberSync.markDirty("gr", "g1", "u1"));
      await e.write(({ memberSync }) => memberSync.settle("gr", "g1", leaving!, null));
      expect(await dirty("gr", "g1")).toEqual([{ memberId: "u1", dn: null, dirty: 2, evict: false }]);
      const [gone] = await e.read.memberSync.dirtyRows("gr", "g1", -1);
      await e.write(({ memberSync }) => memberSync.settle("gr", "g1", gone!, null));
      expect(await e.read.memberSync.ofMember("u1", ["gr"])).toEqual([]);
    });

    it("markAllDirty marks every SCIM member and every written pair; forgetGroup forgets them", async () => {
      const s = seed(e);
      await s.group("g1");
      await s.member("g1", "u1");
      await s.member("g1", "g9", "Group");
      await s.member("g1", "u5");
      // Written and clean: u1 (a member) and a value no member explains any more; u5 already marked.
      await e.write(async ({ memberSync }) => {
        for (const [member, dn] of [["u1", "uid=u1"], ["u0", "uid=u0"]] as const) {
          await memberSync.markDirty("gr", "g1", member);
          await memberSync.settle("gr", "g1", { memberId: member, dn: null, dirty: 1, evict: false }, dn);
        }
        await memberSync.markDirty("gr", "g1", "u5");
        await memberSync.markDirty("gr", "g2", "u1");
      });
      expect(await dirty("gr", "g1")).toEqual([{ memberId: "u5", dn: null, dirty: 1, evict: false }]);
      await e.write(({ memberSync }) => memberSync.markAllDirty("gr", "g1"));
      expect(await dirty("gr", "g1")).toEqual([
        { memberId: "g9", dn: null, dirty: 1, evict: false },
        { memberId: "u0", dn: "uid=u0", dirty: 1, evict: false },
        { memberId: "u1", dn: "uid=u1", dirty: 1, evict: false },
        { memberId: "u5", dn: null, dirty: 2, evict: false },
      ]);
      expect(sorted(await e.read.memberSync.ofMember("u1", ["gr", "x"]))).toEqual([{ rule: "gr", groupId: "g1", dn: "uid=u1" }, { rule: "gr", groupId: "g2", dn: null }]);
      expect(await e.read.memberSync.ofMember("u1", [])).toEqual([]);
      await e.write(({ memberSync }) => memberSync.forgetGroup("gr", "g1"));
      expect(await e.read.memberSync.ofMember("u1", ["gr"])).toEqual([{ rule: "gr", groupId: "g2", dn: null }]);
    });

    it("answers who is a member and as what, and a member's DN under the first rule in config order holding one", async () => {
      const s = seed(e);
      await s.user("u1");
      await s.group("g1");
      await s.group("g2");
      await s.member("g1", "u1");
      await s.member("g2", "u1");
      await s.member("g1", "g2", "Group");
      expect(await e.read.memberSync.memberType("g1", "u1")).toBe("User");
      expect(await e.read.memberSync.memberType("g1", "g2")).toBe("Group");
      expect(await e.read.memberSync.memberType("g2", "g1")).toBeUndefined();
      expect([await e.read.memberSync.isUser("u1"), await e.read.memberSync.isUser("g1")]).toEqual([true, false]);
      expect((await e.read.memberSync.groupsOf("u1")).sort()).toEqual(["g1", "g2"]);
      expect((await e.read.memberSync.memberIds("g1")).sort()).toEqual(["g2", "u1"]);
      await row(e, "User", "u1", "a", { dn: "uid=a" });
      await row(e, "User", "u1", "b", { dn: "uid=b" });
      await row(e, "User", "u1", "c", { dn: "uid=c", state: "out_of_scope" });
      await row(e, "User", "u1", "d");
      expect(await e.read.memberSync.memberDn("User", "u1", ["d", "b", "a"])).toBe("uid=b");
      expect(await e.read.memberSync.memberDn("User", "u1", ["c", "d"])).toBeUndefined();
      expect(await e.read.memberSync.memberDn("User", "u1", [])).toBeUndefined();
      expect(await e.read.memberSync.memberDn("Group", "u1", ["a"])).toBeUndefined();
    });
  });

  describe("reconcile's membership repairs", () => {
    it("the delivered member DNs, the written ones, a value unwritten, a stray value evicted", async () => {
      const s = seed(e);
      await s.group("g1");
      await s.member("g1", "u1");
      await s.member("g1", "u2");
      await s.member("g1", "g2", "Group");
      await row(e, "User", "u1", "people", { dn: "uid=u1" });
      await row(e, "User", "u2", "people", { dn: "uid=u2", state: "out_of_scope" });
      await row(e, "Group", "g2", "groups", { dn: "cn=g2" });
      await row(e, "User", "u3", "people", { dn: "uid=u3" });
      expect(sorted(await e.read.memberRepairs.deliveredMemberDns("g1", ["people", "groups"]))).toEqual([{ id: "g2", dn: "cn=g2" }, { id: "u1", dn: "uid=u1" }]);
      expect(await e.read.memberRepairs.deliveredMemberDns("g1", [])).toEqual([]);
      await e.write(async ({ memberSync, memberRepairs }) => {
        await memberSync.settle("gr", "g1", { memberId: "u1", dn: null, dirty: 0, evict: false }, "uid=u1");
        await memberSync.markDirty("gr", "g1", "u1");
        await memberSync.settle("gr", "g1", { memberId: "u1", dn: null, dirty: 1, evict: false }, "uid=u1");
        await memberRepairs.evictValue("gr", "g1", "dn:uid=x", "uid=x");
      });
      expect(sorted(await e.read.memberRepairs.writtenMembers("gr", "g1"))).toEqual([{ id: "dn:uid=x", dn: "uid=x" }, { id: "u1", dn: "uid=u1" }]);
      await e.write(async ({ memberRepairs }) => {
        await memberRepairs.markUnwritten("gr", "g1", "u1");
        await memberRepairs.evictValue("gr", "g1", "dn:uid=x", "uid=X");
      });
      expect(await e.read.memberRepairs.writtenMembers("gr", "g1")).toEqual([{ id: "dn:uid=x", dn: "uid=X" }]);
      expect(await e.read.memberSync.dirtyRows("gr", "g1", -1)).toEqual([{ memberId: "dn:uid=x", dn: "uid=X", dirty: 2, evict: true }]);
    });
  });

  describe("repair requests", () => {
    it("records resyncs with the current version, only of resources that exist or still have sync state", async () => {
      const s = seed(e);
      await s.user("u1", 4);
      await s.group("g1", 2);
      expect([await e.read.repairs.versionOf("User", "u1"), await e.read.repairs.versionOf("Group", "g1"), await e.read.repairs.versionOf("User", "zz"), await e.read.repairs.versionOf("Entry", "u1")]).toEqual([4, 2, undefined, undefined]);
      expect(await e.read.repairs.queueResync("User", "u1", at, "admin")).toBe(1);
      expect(await e.read.repairs.queueResync("User", "gone", at, "admin")).toBeUndefined();
      await row(e, "User", "gone", "people", { dn: "uid=gone" });
      expect(await e.read.repairs.hasSyncState("User", "gone")).toBe(true);
      expect(await e.read.repairs.queueResync("User", "gone", later, "admin")).toBe(2);
      expect(await e.write(({ repairs }) => repairs.record({ kind: "Group", id: "g1", op: "refresh", version: 2, at, client: "reconcile" }))).toBe(3);
      const batch = await e.read.sync.changedSince(0, 10);
      expect(batch.rows).toEqual([{ kind: "User", id: "u1", seq: 1 }, { kind: "User", id: "gone", seq: 2 }, { kind: "Group", id: "g1", seq: 3 }]);
      expect(await e.read.sync.changedAt(2)).toBe(later);
    });

    it("a resync queued while a write to the resource is still open carries the version that write commits", async () => {
      await seed(e).user("u1", 1);
      let inside!: () => void;
      let release!: () => void;
      const started = new Promise<void>((r) => (inside = r));
      const held = new Promise<void>((r) => (release = r));
      const writing = e.write(async (_q, exec) => {
        await exec("UPDATE users SET version = 2 WHERE id = ?", ["u1"]);
        inside();
        await held;
      });
      await started;
      const resync = e.read.repairs.queueResync("User", "u1", at, "admin");
      await new Promise((r) => setTimeout(r, 200));
      release();
      await writing;
      expect(await resync).toBe(1);
      expect(await e.rows("SELECT op, version FROM changes")).toEqual([{ op: "resync", version: 2 }]);
    });

    it("queues an entry delete as a pending row, replacing an earlier request for the same entry", async () => {
      const req = { kind: "Entry", rule: "people", target: "ldap", dn: "uid=x", dnKey: "uid=x", directoryId: "id-1", seq: 4, at };
      await e.write(({ repairs }) => repairs.queueEntryDelete(req));
      await e.write(({ sync }) => sync.update("Entry", "uid=x", "people", { state: "retrying", attempts: 2, nextAttempt: later, lastCode: 52, lastError: "busy" }));
      await e.write(({ repairs }) => repairs.queueEntryDelete({ ...req, directoryId: null, seq: 7, at: later }));
      expect(await e.read.sync.get("Entry", "uid=x", "people")).toMatchObject({
        target: "ldap", state: "pending", wantedSeq: 7, dn: "uid=x", dnKey: "uid=x", directoryId: null, attempts: 0, nextAttempt: null, lastCode: null, lastError: null, updated: later,
      });
      expect(await e.read.repairs.hasSyncState("Entry", "uid=y")).toBe(false);
    });
  });

  describe("the operators' status view", () => {
    it("one resource's rows by rule; failure pages newest attempt first, never-attempted last; retries", async () => {
      await row(e, "User", "u1", "zeta", { state: "failed", lastAttempt: "2026-12-06T10:05:00.000Z", lastCode: 32 });
      await row(e, "User", "u1", "alpha", { state: "retrying", lastAttempt: "2026-12-06T10:09:00.000Z", lastCode: 51 });
      await row(e, "User", "u2", "alpha", { state: "failed", lastCode: 32 });
      await row(e, "Group", "u0", "alpha", { state: "failed", lastAttempt: "2026-12-06T10:05:00.000Z", lastCode: 32 }, "ldap2");
      await row(e, "User", "u3", "alpha", { state: "in_sync", lastAttempt: later });
      expect((await e.read.syncStatus.rowsOf("User", "u1")).map((r) => r.rule)).toEqual(["alpha", "zeta"]);
      const page = (f: Parameters<SyncStatusView["failures"]>[0], offset = 0, limit = 10) => e.read.syncStatus.failures(f, { offset, limit });
      const failing = { states: ["failed", "retrying"] };
      const first = await page(failing);
      expect(first.total).toBe(4);
      expect(keys(first.rows)).toEqual(["User:u1:alpha", "Group:u0:alpha", "User:u1:zeta", "User:u2:alpha"]);
      expect(keys((await page(failing, 1, 2)).rows)).toEqual(["Group:u0:alpha", "User:u1:zeta"]);
      expect((await page({ ...failing, target: "ldap", rule: "alpha" })).total).toBe(2);
      expect(keys((await page({ states: ["failed"], code: 32 })).rows)).toEqual(["Group:u0:alpha", "User:u1:zeta", "User:u2:alpha"]);
      expect(await e.write(({ syncStatus }) => syncStatus.retry(["failed"], { type: "User", id: "u1" }, later))).toBe(1);
      expect(await e.read.sync.get("User", "u1", "zeta")).toMatchObject({ state: "pending", attempts: 0, nextAttempt: null, updated: later });
      expect(await e.write(({ syncStatus }) => syncStatus.retry(["failed", "retrying"], { all: true }, later))).toBe(3);
      expect((await page(failing)).total).toBe(0);
    });
  });

  describe("entry tombstones", () => {
    const stone = (i: number, over: Partial<Tombstone> = {}): Tombstone => ({
      rule: "people", target: "ldap", dnKey: `uid=${String(i).padStart(4, "0")}`, dn: `uid=${i}`, directoryId: "d", resourceType: "User", resourceId: `u${i}`, at, ...over,
    });

    it("are one row per entry, read in pages past the page size, owned by a rule, and forgotten", async () => {
      await e.write(async ({ tombstones }) => {
        for (let i = 0; i < 1003; i++) await tombstones.record(stone(i));
        await tombstones.record(stone(5, { directoryId: "c" }));
        await tombstones.record(stone(7, { dn: "UID=7", resourceId: "v7", at: later }));
        await tombstones.record(stone(7, { rule: "admins" }));
        await tombstones.record(stone(8, { target: "ldap2" }));
      });
      const read = await all(e.read.tombstones.of("people", "ldap"));
      expect(read).toHaveLength(1004);
      expect(read.slice(4, 9).map((t) => [t.dnKey, t.directoryId])).toEqual([["uid=0004", "d"], ["uid=0005", "c"], ["uid=0005", "d"], ["uid=0006", "d"], ["uid=0007", "d"]]);
      expect(read[8]).toEqual(stone(7, { dn: "UID=7", resourceId: "v7", at: later }));
      expect(read.at(-1)?.dnKey).toBe("uid=1002");
      expect(await e.read.tombstones.owner("ldap", "uid=0007", "d", "people")).toBe("admins");
      expect(await e.read.tombstones.owner("ldap", "uid=0007", "d", "admins")).toBe("people");
      expect(await e.read.tombstones.owner("ldap", "uid=0005", "x", "admins")).toBeUndefined();
      expect(await e.write(({ tombstones }) => tombstones.forget("ldap", "uid=0007", "d"))).toBe(2);
      expect(await e.read.tombstones.owner("ldap", "uid=0007", "d", "admins")).toBeUndefined();
      expect(await all(e.read.tombstones.of("people", "ldap2"))).toEqual([stone(8, { target: "ldap2" })]);
    });
  });
});
