/**
 * The rest of the delivery side on both engines (test/helpers/delivery-engines.ts): membership
 * sync and its dirty generation, reconcile's membership repairs, repair requests, the operators'
 * status view and entry tombstones, one behaviour suite over SQLite's query objects and
 * PostgreSQL's, expecting the same answers from each.
 */
import { beforeEach, describe, expect, it } from "vitest";
import type { SyncStatusView } from "../../db/store.js";
import type { Tombstone } from "../../db/tombstones.js";
import { at, eachEngine, keys, later, row, seed, sorted, type Engine } from "../helpers/delivery-engines.js";
import { collect } from "../helpers/collect.js";

eachEngine("membership sync, repairs, status and tombstones", (engine) => {
  let e: Engine;
  beforeEach(() => {
    e = engine();
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
      expect(await e.rows("SELECT CAST(seq AS integer) AS seq, resource_type AS kind, resource_id AS id, op, version, at, client FROM changes ORDER BY seq")).toEqual([
        { seq: 1, kind: "User", id: "u1", op: "resync", version: 4, at, client: "admin" },
        { seq: 2, kind: "User", id: "gone", op: "resync", version: 0, at: later, client: "admin" },
        { seq: 3, kind: "Group", id: "g1", op: "refresh", version: 2, at, client: "reconcile" },
      ]);
    });

    it("a resync queued while a write to the resource is still open carries the version that write commits", async () => {
      await seed(e).user("u1", 1);
      const writing = await e.hold("UPDATE users SET version = 2 WHERE id = ?", ["u1"]);
      const resync = e.read.repairs.queueResync("User", "u1", at, "admin");
      await new Promise((r) => setTimeout(r, 200));
      await writing.commit();
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
      const read = await collect(e.read.tombstones.of("people", "ldap"));
      expect(read).toHaveLength(1004);
      expect(read.slice(4, 9).map((t) => [t.dnKey, t.directoryId])).toEqual([["uid=0004", "d"], ["uid=0005", "c"], ["uid=0005", "d"], ["uid=0006", "d"], ["uid=0007", "d"]]);
      expect(read[8]).toEqual(stone(7, { dn: "UID=7", resourceId: "v7", at: later }));
      expect(read.at(-1)?.dnKey).toBe("uid=1002");
      expect(await e.read.tombstones.owner("ldap", "uid=0007", "d", "people")).toBe("admins");
      expect(await e.read.tombstones.owner("ldap", "uid=0007", "d", "admins")).toBe("people");
      expect(await e.read.tombstones.owner("ldap", "uid=0005", "x", "admins")).toBeUndefined();
      expect(await e.write(({ tombstones }) => tombstones.forget("ldap", "uid=0007", "d"))).toBe(2);
      expect(await e.read.tombstones.owner("ldap", "uid=0007", "d", "admins")).toBeUndefined();
      expect(await collect(e.read.tombstones.of("people", "ldap2"))).toEqual([stone(8, { target: "ldap2" })]);
    });
  });
});
