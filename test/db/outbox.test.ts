/**
 * The outbox as the fan-out reads it (SyncQueries.unfanned): each changed resource once, with
 * its newest change; every group change in order, with its member deltas and the displayName
 * before and after it (what membership delivery and group-based user rules need); the seqs taken,
 * which markFanned marks one by one.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "../../db/open.js";

const dir = mkdtempSync(join(tmpdir(), "scimbridge-outbox-"));
const store = openStore(join(dir, "scim.db"));
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});
const at = "2026-12-02T10:00:00.000Z";

describe("the fan-out's read of the outbox", () => {
  it("for group creates, renames, member deltas, deletes and user changes", async () => {
    const before = await store.sync.newestSeq();
    await store.transaction(async ({ resources: q }) => {
      await q.recordChange({ kind: "Group", id: "g1", op: "create", version: 1, at, after: { displayName: "Team" }, membersAdded: ["u1", "u2"] });
      await q.recordChange({ kind: "Group", id: "g1", op: "update", version: 2, at, before: { displayName: "Team" }, after: { displayName: "Team B" } });
      await q.recordChange({ kind: "Group", id: "g1", op: "update", version: 3, at, before: { displayName: "Team B" }, after: { displayName: "Team B" }, membersAdded: ["u3"], membersRemoved: ["u1"] });
      await q.recordChange({ kind: "Group", id: "g2", op: "create", version: 1, at, after: { displayName: "Empty", externalId: "x" }, membersAdded: [] });
      await q.recordChange({ kind: "User", id: "u1", op: "update", version: 2, at, before: { userName: "a", displayName: "A" }, after: { userName: "a", displayName: "B" } });
      await q.recordChange({ kind: "Group", id: "g1", op: "delete", version: 4, at, before: { displayName: "Team B" }, membersRemoved: ["u2", "u3"] });
      await q.recordChange({ kind: "User", id: "u1", op: "delete", version: 3, at, before: { userName: "a" } });
    });
    const read = await store.sync.unfanned(100);
    const seq = (i: number) => before + 1 + i;
    expect(read.seqs).toEqual([0, 1, 2, 3, 4, 5, 6].map(seq));
    // Each resource once, with its latest change (in the order each was first changed).
    expect(read.rows).toEqual([
      { kind: "Group", id: "g1", seq: seq(5) },
      { kind: "Group", id: "g2", seq: seq(3) },
      { kind: "User", id: "u1", seq: seq(6) },
    ]);
    const group = (i: number, id: string, op: string, added: string[] | null, removed: string[] | null, displayBefore: string | null, displayAfter: string | null) => ({
      seq: seq(i),
      id,
      op,
      membersAdded: added && JSON.stringify(added),
      membersRemoved: removed && JSON.stringify(removed),
      displayBefore,
      displayAfter,
    });
    expect(read.groupChanges).toEqual([
      group(0, "g1", "create", ["u1", "u2"], null, null, "Team"),
      group(1, "g1", "update", null, null, "Team", "Team B"),
      group(2, "g1", "update", ["u3"], ["u1"], "Team B", "Team B"),
      group(3, "g2", "create", null, null, null, "Empty"),
      group(5, "g1", "delete", null, ["u2", "u3"], "Team B", null),
    ]);
    // A limit ends the batch early, oldest first.
    expect((await store.sync.unfanned(2)).seqs).toEqual([seq(0), seq(1)]);
    // Marked rows are not read again; the others are.
    await store.transaction(({ sync }) => sync.markFanned([seq(0), seq(2)]));
    expect((await store.sync.unfanned(100)).seqs).toEqual([1, 3, 4, 5, 6].map(seq));
    expect(await store.sync.unfannedUpTo(3)).toBe(3);
    await store.transaction(async ({ sync }) => sync.markFanned((await sync.unfanned(100)).seqs));
    expect(await store.sync.hasUnfanned()).toBe(false);
    expect(await store.sync.unfanned(100)).toEqual({ seqs: [], rows: [], groupChanges: [] });
  });
});
