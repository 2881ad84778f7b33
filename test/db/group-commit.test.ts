/**
 * Group commit (db/group-commit.ts) on a real SQLite file: the writes of one event-loop turn share
 * one transaction, each caller resolves only once it is committed (another connection reads it),
 * and a write that throws rolls back alone: its caller is rejected, the others commit.
 */
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { GroupCommit } from "../../db/group-commit.js";
import { openStore } from "../../db/open.js";

const dir = mkdtempSync(join(tmpdir(), "scimbridge-group-commit-"));
const file = join(dir, "scim.db");
const store = openStore(file);
const other = new Database(file, { readonly: true });
afterAll(async () => {
  other.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});
const at = "2026-12-06T10:00:00.000Z";
const seen = (id: string) => other.prepare("SELECT 1 FROM sync_state WHERE resource_id = ?").get(id) !== undefined;

describe("GroupCommit", () => {
  it("commits a turn's writes together, resolves each once durable, and rolls back only a write that throws", async () => {
    let flushes = 0;
    const commit = new GroupCommit(store, () => flushes++);
    const a = commit.run(({ sync }) => sync.markPending("User", "gc-a", "r", "t", 1, at));
    const bad = commit.run(async ({ sync }) => {
      await sync.markPending("User", "gc-bad", "r", "t", 2, at);
      throw new Error("this write fails");
    });
    const c = commit.run(async ({ sync }) => {
      await sync.markPending("User", "gc-c", "r", "t", 3, at);
      return "c's result";
    });
    // Nothing is written before the turn's end.
    expect(seen("gc-a")).toBe(false);
    await expect(a).resolves.toBeUndefined();
    expect(seen("gc-a")).toBe(true); // durable: another connection reads it
    await expect(bad).rejects.toThrow("this write fails");
    await expect(c).resolves.toBe("c's result");
    expect(seen("gc-c")).toBe(true);
    expect(seen("gc-bad")).toBe(false);
    expect(flushes).toBe(1);
  });
});
