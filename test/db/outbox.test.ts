/**
 * The outbox as the write reports it and as the fan-out reads it back: the inline fan-out uses
 * the write's own report instead of a read (hooks/delivery/worker.ts fanOutInline), so the two must agree
 * on every field, for every kind of change.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "../../db/open.js";
import { ResourceQueries } from "../../db/resources.js";
import { outboxBatch, SyncQueries, type OutboxEntry } from "../../db/sync.js";

const dir = mkdtempSync(join(tmpdir(), "scimbridge-outbox-"));
const store = openStore(join(dir, "scim.db"));
afterAll(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});
const q = new ResourceQueries(store.db);
const sync = new SyncQueries(store.db);
const at = "2026-12-02T10:00:00.000Z";

describe("recordChange's report equals the fan-out's read", () => {
  it("for group creates, renames, member deltas, deletes and user changes", () => {
    const reported: OutboxEntry[] = [
      q.recordChange({ kind: "Group", id: "g1", op: "create", version: 1, at, after: { displayName: "Team" }, membersAdded: ["u1", "u2"] }),
      q.recordChange({ kind: "Group", id: "g1", op: "update", version: 2, at, before: { displayName: "Team" }, after: { displayName: "Team B" } }),
      q.recordChange({ kind: "Group", id: "g1", op: "update", version: 3, at, before: { displayName: "Team B" }, after: { displayName: "Team B" }, membersAdded: ["u3"], membersRemoved: ["u1"] }),
      q.recordChange({ kind: "Group", id: "g2", op: "create", version: 1, at, after: { displayName: "Empty", externalId: "x" }, membersAdded: [] }),
      q.recordChange({ kind: "User", id: "u1", op: "update", version: 2, at, before: { userName: "a", displayName: "A" }, after: { userName: "a", displayName: "B" } }),
      q.recordChange({ kind: "Group", id: "g1", op: "delete", version: 4, at, before: { displayName: "Team B" }, membersRemoved: ["u2", "u3"] }),
      q.recordChange({ kind: "User", id: "u1", op: "delete", version: 3, at, before: { userName: "a" } }),
    ];
    const read = sync.changedSince(0, 100);
    expect(outboxBatch(reported)).toEqual(read);
    // And row by row, seqs included.
    expect(reported.map((e) => e.seq)).toEqual(reported.map((_, i) => reported[0]!.seq + i));
    expect(read.groupChanges).toEqual(reported.filter((e) => e.kind === "Group").map(({ kind: _k, ...g }) => g));
  });
});
