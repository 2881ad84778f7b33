/**
 * What reconcile and the operators' commands read and queue through db/, on a real SQLite file:
 * resources paged by seq (db/resource-scan.ts), the member DNs a group's entry should hold and
 * the repairs of its member rows (db/member-repairs.ts), resync and entry-delete requests
 * (db/repair-requests.ts), and failure pages and retries (db/sync-status.ts).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "../../db/open.js";
import { changes, groupMembers, groupMemberSync, syncState } from "../../db/schema.js";
import type { RetrySelection } from "../../db/sync-status.js";
import { collect } from "../helpers/collect.js";

const dir = mkdtempSync(join(tmpdir(), "scimbridge-reconcile-store-"));
const store = openStore(join(dir, "scim.db"));
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});
const at = "2026-04-01T00:00:00.000Z";
const addUser = (id: string, version = 1) =>
  store.transaction(({ resources }) => resources.insert("User", { id, attributes: { userName: id }, created: at, lastModified: at, version }));
const addGroup = (id: string) =>
  store.transaction(({ resources }) => resources.insert("Group", { id, attributes: { displayName: id }, created: at, lastModified: at, version: 1 }));
/** A sync_state row planted with SQL on the writing connection (nothing else writes in this file). */
const syncRow = (type: string, id: string, rule: string, set: Partial<typeof syncState.$inferInsert> = {}) =>
  store.db.insert(syncState).values({ resourceType: type, resourceId: id, rule, target: "slapd", state: "in_sync", wantedSeq: 1, updated: at, ...set }).run();

describe("ResourceScan", () => {
  it("pages every resource of a kind in insertion order, reading each page when asked (adds seen, deletes not)", async () => {
    for (const id of ["u1", "u2", "u3", "u4", "u5"]) await addUser(id);
    await addGroup("g1");
    const scan = store.scan;
    expect([await scan.count("User"), await scan.count("Group")]).toEqual([5, 1]);
    const pages: string[][] = [];
    for await (const ids of scan.pages("User", 2)) {
      pages.push(ids);
      if (pages.length === 1) {
        await store.transaction(({ resources }) => resources.delete("User", "u4"));
        await addUser("u6");
      }
    }
    expect(pages).toEqual([["u1", "u2"], ["u3", "u5"], ["u6"]]);
    expect(await collect(scan.pages("Group", 10))).toEqual([["g1"]]);
  });
});

describe("MemberRepairs", () => {
  it("gives a group's members with the DN their own entry has under the member rules, delivered ones only", async () => {
    await addGroup("g2");
    store.db
      .insert(groupMembers)
      .values(["u1", "u2", "u3", "u5"].map((memberId) => ({ groupId: "g2", memberId, memberType: "User" })))
      .run();
    syncRow("User", "u1", "people", { dn: "uid=u1,dc=example" });
    syncRow("User", "u2", "people", { dn: "uid=u2,dc=example", state: "out_of_scope" });
    syncRow("User", "u3", "people"); // not delivered yet: no DN
    syncRow("User", "u5", "others", { dn: "uid=u5,dc=other" });
    syncRow("Group", "u1", "people", { dn: "cn=not-a-member" }); // same id, other kind
    expect(await store.memberRepairs.deliveredMemberDns("g2", ["people"])).toEqual([{ id: "u1", dn: "uid=u1,dc=example" }]);
    expect((await store.memberRepairs.deliveredMemberDns("g2", ["people", "others"])).sort((a, b) => a.id.localeCompare(b.id))).toEqual([
      { id: "u1", dn: "uid=u1,dc=example" },
      { id: "u5", dn: "uid=u5,dc=other" },
    ]);
    expect(await store.memberRepairs.deliveredMemberDns("g2", [])).toEqual([]);
  });

  it("marks a member unwritten, lists written values, and makes an eviction pair for a stray value", async () => {
    const pair = (memberId: string) =>
      store.db.select().from(groupMemberSync).all().find((r) => r.rule === "groups" && r.groupId === "g2" && r.memberId === memberId);
    store.db.insert(groupMemberSync).values({ rule: "groups", groupId: "g2", memberId: "u1", dn: "uid=u1,dc=example", dirty: 0, evict: 0 }).run();
    expect(await store.memberRepairs.writtenMembers("groups", "g2")).toEqual([{ id: "u1", dn: "uid=u1,dc=example" }]);
    await store.transaction(({ memberRepairs }) => memberRepairs.markUnwritten("groups", "g2", "u1"));
    expect(await store.memberRepairs.writtenMembers("groups", "g2")).toEqual([]);
    await store.transaction(({ memberRepairs }) => memberRepairs.evictValue("groups", "g2", "dn:uid=stray", "uid=stray"));
    expect(pair("dn:uid=stray")).toMatchObject({ dn: "uid=stray", dirty: 1, evict: 1 });
    await store.transaction(({ memberRepairs }) => memberRepairs.evictValue("groups", "g2", "dn:uid=stray", "uid=Stray"));
    expect(pair("dn:uid=stray")).toMatchObject({ dn: "uid=Stray", dirty: 2, evict: 1 });
  });
});

describe("RepairRequests", () => {
  const change = (seq: number) => store.db.select().from(changes).all().find((c) => c.seq === seq);

  it("queues a resync carrying the current version; a gone resource only while it has sync state", async () => {
    await addUser("v1", 7);
    const seq = (await store.repairs.queueResync("User", "v1", at, "cli"))!;
    expect(change(seq)).toMatchObject({ resourceType: "User", resourceId: "v1", op: "resync", version: 7, client: "cli" });
    expect(await store.repairs.queueResync("User", "nobody", at, "cli")).toBeUndefined();
    syncRow("User", "gone", "people", { dn: "uid=gone,dc=example" });
    expect(change((await store.repairs.queueResync("User", "gone", at, "cli"))!)).toMatchObject({ resourceId: "gone", version: 0 });
    expect([await store.repairs.versionOf("Group", "g1"), await store.repairs.versionOf("Entry", "x")]).toEqual([1, undefined]);
  });

  it("queues an entry delete as a pending row for the change, replacing an earlier request", async () => {
    const request = { kind: "Entry", rule: "people", target: "slapd", dn: "uid=x,dc=example", dnKey: "uid=x,dc=example", directoryId: "uuid-1", at };
    const queue = (directoryId: string) =>
      store.transaction(async ({ repairs }) => {
        const seq = await repairs.record({ kind: "Entry", id: request.dn, op: "delete", version: 0, at, client: "reconcile" });
        await repairs.queueEntryDelete({ ...request, directoryId, seq });
        return seq;
      });
    await queue("uuid-1");
    store.db.update(syncState).set({ state: "failed", attempts: 5 }).where(eq(syncState.resourceId, request.dn)).run(); // the first try failed
    const second = await queue("uuid-2");
    const rows = await store.syncStatus.rowsOf("Entry", request.dn);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ state: "pending", wantedSeq: second, attempts: 0, directoryId: "uuid-2" });
  });
});

describe("SyncStatusStore", () => {
  it("pages failures newest attempt first in a total order, filtered, and retries them", async () => {
    store.db.delete(syncState).run();
    syncRow("User", "a", "people", { state: "failed", lastAttempt: "2026-04-02T00:00:00.000Z", lastCode: 50 });
    syncRow("User", "b", "people", { state: "retrying", lastAttempt: "2026-04-03T00:00:00.000Z", lastCode: 52 });
    syncRow("User", "c", "people", { state: "failed", lastAttempt: "2026-04-02T00:00:00.000Z", lastCode: 50 });
    syncRow("User", "d", "people", { state: "failed" });
    syncRow("User", "e", "people", { state: "in_sync" });
    const retry = (sel: RetrySelection) => store.transaction(({ syncStatus }) => syncStatus.retry(failing, sel, at));
    const failing = ["failed", "retrying"];
    const all = await store.syncStatus.failures({ states: failing }, { offset: 0, limit: 10 });
    expect([all.total, all.rows.map((r) => r.resourceId)]).toEqual([4, ["b", "a", "c", "d"]]);
    expect((await store.syncStatus.failures({ states: failing }, { offset: 1, limit: 2 })).rows.map((r) => r.resourceId)).toEqual(["a", "c"]);
    expect((await store.syncStatus.failures({ states: failing, code: 50 }, { offset: 0, limit: 10 })).total).toBe(2);
    expect(await retry({ type: "User", id: "a" })).toBe(1);
    expect((await store.syncStatus.rowsOf("User", "a"))[0]).toMatchObject({ state: "pending", attempts: 0 });
    expect(await retry({ all: true })).toBe(3);
    expect((await store.syncStatus.failures({ states: failing }, { offset: 0, limit: 10 })).total).toBe(0);
  });
});
