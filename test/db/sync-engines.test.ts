/**
 * The outbox and sync state on both engines (test/helpers/delivery-engines.ts): one behaviour
 * suite over SQLite's SyncQueries and PostgreSQL's PgSyncQueries, expecting the same answers from
 * each: the outbox's unfanned rows and batches, markPending's wanted seq that never goes back, due's
 * order and limit, updates of a subset of columns, DN holders and waiters, streams past a page,
 * counts, pending secrets and known rules.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { at, eachEngine, keys, later, row, seed, sorted, type Engine } from "../helpers/delivery-engines.js";
import { collect } from "../helpers/collect.js";

eachEngine("the outbox and sync state", (engine) => {
  let e: Engine;
  beforeEach(() => {
    e = engine();
  });

describe("the outbox", () => {
    it("knows which changes wait to be fanned out (marked one by one), the newest seq and when each change was made", async () => {
      expect([await e.read.sync.hasUnfanned(), await e.read.sync.newestSeq(), await e.read.sync.unfannedUpTo(10)]).toEqual([false, 0, 0]);
      await seed(e).change("User", "u1", "create", { at });
      await seed(e).change("User", "u2", "create", { at: later });
      await seed(e).change("User", "u3", "create", { at: later });
      expect([await e.read.sync.hasUnfanned(), await e.read.sync.newestSeq(), await e.read.sync.unfannedUpTo(10), await e.read.sync.unfannedUpTo(2)]).toEqual([true, 3, 3, 2]);
      await e.write(({ sync }) => sync.markFanned([2]));
      expect((await e.read.sync.unfanned(10)).seqs).toEqual([1, 3]);
      await e.write(({ sync }) => sync.markFanned([1, 3]));
      expect([await e.read.sync.hasUnfanned(), await e.read.sync.unfannedUpTo(10)]).toEqual([false, 0]);
      expect(await e.read.sync.changedAt(2)).toBe(later);
      expect(await e.read.sync.changedAt(4)).toBeUndefined();
    });

    it("batches changes: each resource once with its newest seq, group changes in order with member deltas and displayName", async () => {
      const s = seed(e);
      await s.change("Group", "g1", "create", { after: { displayName: "Team" }, added: ["u1", "u2"] });
      await s.change("User", "u1", "update", { before: { displayName: "A" }, after: { displayName: "B" } });
      await s.change("Group", "g1", "update", { before: { displayName: "Team" }, after: { displayName: "Team B" }, added: ["u3"], removed: ["u1"] });
      await s.change("User", "u1", "delete", { before: { displayName: "B" }, removed: ["x"] });
      await e.write(({ sync }) => sync.refreshGroup("g2", ["u4"], at));
      const batch = await e.read.sync.unfanned(10);
      expect(batch.seqs).toEqual([1, 2, 3, 4, 5]);
      expect(batch.rows).toEqual([{ kind: "Group", id: "g1", seq: 3 }, { kind: "User", id: "u1", seq: 4 }, { kind: "Group", id: "g2", seq: 5 }]);
      expect(batch.groupChanges).toEqual([
        { seq: 1, id: "g1", op: "create", membersAdded: '["u1","u2"]', membersRemoved: null, displayBefore: null, displayAfter: "Team" },
        { seq: 3, id: "g1", op: "update", membersAdded: '["u3"]', membersRemoved: '["u1"]', displayBefore: "Team", displayAfter: "Team B" },
        { seq: 5, id: "g2", op: "refresh", membersAdded: '["u4"]', membersRemoved: null, displayBefore: null, displayAfter: null },
      ]);
      await e.write(({ sync }) => sync.markFanned([1]));
      expect(await e.read.sync.unfanned(2)).toMatchObject({ seqs: [2, 3], rows: [{ kind: "User", id: "u1", seq: 2 }, { kind: "Group", id: "g1", seq: 3 }] });
      await e.write(({ sync }) => sync.markFanned([2, 3, 4, 5]));
      expect(await e.read.sync.unfanned(10)).toEqual({ seqs: [], rows: [], groupChanges: [] });
    });
  });

  describe("sync state", () => {
    it("markPending makes a pending row, never moves wanted_seq back, and clears a permanent failure", async () => {
      await e.write(({ sync }) => sync.markPending("User", "u1", "people", "ldap", 5, at));
      const fresh = await e.read.sync.get("User", "u1", "people");
      expect(fresh).toEqual({
        resourceType: "User", resourceId: "u1", rule: "people", target: "ldap", state: "pending", wantedSeq: 5, deliveredSeq: 0,
        dn: null, dnKey: null, directoryId: null, written: null, attempts: 0, lastAttempt: null, nextAttempt: null, lastCode: null, lastError: null,
        secret: null, waitingFor: null, updated: at, leaseOwner: null, leaseUntil: null, leaseToken: null,
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

    it("claim leases due rows in due's order, leaving out rows under a live lease, and takes back rows whose lease ran out", async () => {
      await row(e, "User", "a9", "people", {}, "ldap", 9);
      await row(e, "User", "x2", "people", {}, "ldap", 2);
      await row(e, "User", "r1", "people", { state: "retrying", nextAttempt: "2026-12-06T10:01:00.000Z" });
      await row(e, "User", "done", "people", { state: "in_sync" }, "ldap", 1);
      const now = "2026-12-06T10:30:00.000Z";
      const until = "2026-12-06T10:31:00.000Z";
      const first = await e.write(({ sync }) => sync.claim(now, ["people"], 2, { owner: "w1", until, token: 11 }));
      expect(keys(first)).toEqual(["User:x2:people", "User:a9:people"]);
      expect(first.map((r) => [r.leaseOwner, r.leaseUntil, r.leaseToken])).toEqual([["w1", until, 11], ["w1", until, 11]]);
      expect(await e.read.sync.get("User", "x2", "people")).toMatchObject({ leaseOwner: "w1", leaseUntil: until, leaseToken: 11, state: "pending" });
      // Another worker gets what is left; the leased rows stay due for due() (idle, backlog).
      const second = await e.write(({ sync }) => sync.claim(now, ["people"], 10, { owner: "w2", until, token: 12 }));
      expect(keys(second)).toEqual(["User:r1:people"]);
      expect(await e.write(({ sync }) => sync.claim(now, ["people"], 10, { owner: "w3", until, token: 13 }))).toEqual([]);
      expect(keys(await e.read.sync.due(now, ["people"], 10))).toEqual(["User:x2:people", "User:a9:people", "User:r1:people"]);
      // Once the leases have run out, they are anyone's again, under a new token.
      const after = "2026-12-06T10:31:00.000Z";
      const third = await e.write(({ sync }) => sync.claim(after, ["people"], 10, { owner: "w3", until: later, token: 14 }));
      expect(keys(third)).toEqual(["User:x2:people", "User:a9:people", "User:r1:people"]);
      expect((await e.read.sync.get("User", "a9", "people"))?.leaseToken).toBe(14);
    });

    it("claim with a target's cap takes no more than the room its live leases leave, counting every owner's", async () => {
      for (const id of ["a", "b", "c", "d", "e"]) await row(e, "User", id, "people", {}, "ldap", id.charCodeAt(0));
      await row(e, "User", "f", "people", {}, "other", 200);
      const now = "2026-12-06T10:30:00.000Z";
      const until = "2026-12-06T10:31:00.000Z";
      const cap = { target: "ldap", max: 3 };
      expect(keys(await e.write(({ sync }) => sync.claim(now, ["people"], 2, { owner: "w1", until, token: 1 }, cap)))).toEqual(["User:a:people", "User:b:people"]);
      expect(keys(await e.write(({ sync }) => sync.claim(now, ["people"], 5, { owner: "w2", until, token: 2 }, cap)))).toEqual(["User:c:people"]);
      expect(await e.write(({ sync }) => sync.claim(now, ["people"], 5, { owner: "w3", until, token: 3 }, cap))).toEqual([]);
      expect(await e.read.sync.liveLeasesOn("ldap", now)).toBe(3);
      // A lease that has run out frees its room; leases on another target never took any.
      expect(await e.read.sync.liveLeasesOn("ldap", until)).toBe(0);
      // w1's two rows released: room for two again, taken oldest first (a and b are due again).
      await e.write(({ sync }) => sync.releaseLeases("w1"));
      expect(keys(await e.write(({ sync }) => sync.claim(now, ["people"], 5, { owner: "w3", until, token: 4 }, cap)))).toEqual(["User:a:people", "User:b:people"]);
    });

    it("renewLeases extends only the owner's live leases of the tokens named; releaseLeases ends one owner's or all", async () => {
      for (const id of ["a", "b", "c", "d"]) await row(e, "User", id, "people", {}, "ldap", id.charCodeAt(0));
      const now = "2026-12-06T10:30:00.000Z";
      const soon = "2026-12-06T10:31:00.000Z";
      await e.write(({ sync }) => sync.claim(now, ["people"], 1, { owner: "w1", until: soon, token: 1 }));
      await e.write(({ sync }) => sync.claim(now, ["people"], 1, { owner: "w1", until: soon, token: 2 }));
      await e.write(({ sync }) => sync.claim(now, ["people"], 1, { owner: "w2", until: soon, token: 3 }));
      await e.write(({ sync }) => sync.claim(now, ["people"], 1, { owner: "w1", until: now, token: 4 })); // already run out
      expect(await e.write(({ sync }) => sync.renewLeases("w1", [1, 3, 4], now, later))).toBe(1);
      const lease = async (id: string) => {
        const r = (await e.read.sync.get("User", id, "people"))!;
        return [r.leaseOwner, r.leaseUntil, r.leaseToken];
      };
      expect(await lease("a")).toEqual(["w1", later, 1]);
      expect(await lease("b")).toEqual(["w1", soon, 2]); // a token not named
      expect(await lease("c")).toEqual(["w2", soon, 3]); // another owner's
      expect(await lease("d")).toEqual(["w1", now, 4]); // ran out: never taken back by a heartbeat
      expect(await e.write(({ sync }) => sync.renewLeases("w1", [], now, later))).toBe(0);
      expect(await e.write(({ sync }) => sync.releaseLeases("w1"))).toBe(3);
      expect(await lease("a")).toEqual([null, null, null]);
      expect(await lease("c")).toEqual(["w2", soon, 3]);
      expect(await e.write(({ sync }) => sync.releaseLeases(undefined))).toBe(1);
      expect(await lease("c")).toEqual([null, null, null]);
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
      const ofRule = await collect(e.read.sync.rowsHoldingDns("Entry", { rule: "people" }));
      expect(ofRule.map((r) => r.resourceId)).toEqual(Array.from({ length: 1205 }, (_, i) => `u${String(i).padStart(4, "0")}`));
      const others = await collect(e.read.sync.rowsHoldingDns("Entry", { target: "ldap", exceptRule: "people" }));
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
});
