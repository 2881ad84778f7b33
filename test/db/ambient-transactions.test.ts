/**
 * The store's ambient transactions (db/store.ts) against work that outlives the code that started
 * it: a group commit or an audit flush scheduled from inside a transaction runs in its own
 * context, never as a savepoint of that transaction. On a real SQLite file, read back through a
 * second connection.
 */
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { GroupCommit } from "../../db/group-commit.js";
import { openStore } from "../../db/open.js";
import { AuditLog } from "../../server/observability/audit.js";

const dir = mkdtempSync(join(tmpdir(), "scimbridge-ambient-"));
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
/** A later event-loop turn, while the transaction that awaits it is still open. */
const nextTurn = () => new Promise<void>((r) => setImmediate(r));

describe("work started inside a transaction", () => {
  it("a group-committed write queued from inside a transaction that then rolls back is still committed, and its caller resolves", async () => {
    const commit = new GroupCommit(store);
    let queued: Promise<void> | undefined;
    await expect(
      store.transaction(async ({ sync }) => {
        await sync.markPending("User", "rolled-back", "r", "t", 1, at);
        queued = commit.run(({ sync: s }) => s.markPending("User", "group-committed", "r", "t", 2, at));
        // The group commit's flush comes due while this transaction is still open.
        await nextTurn();
        await nextTurn();
        throw new Error("the transaction fails");
      }),
    ).rejects.toThrow("the transaction fails");
    await queued;
    expect(seen("rolled-back")).toBe(false);
    expect(seen("group-committed")).toBe(true);
  });

  it("an audit flush scheduled from inside a transaction that rolls back keeps its rows", async () => {
    const audit = new AuditLog(store);
    await expect(
      store.transaction(async () => {
        audit.recordScim({ client: "c", method: "POST", resourceType: "User", resourceId: "u1", status: 201 });
        await nextTurn();
        await nextTurn();
        throw new Error("the transaction fails");
      }),
    ).rejects.toThrow("the transaction fails");
    await audit.flush();
    expect(other.prepare("SELECT count(*) AS n FROM audit_log WHERE resource_id = 'u1'").get()).toEqual({ n: 1 });
  });

  it("a write outside any transaction is refused, whatever transaction is open meanwhile", async () => {
    await expect(store.sync.markPending("User", "outside", "r", "t", 1, at)).rejects.toThrow(/readonly/);
    expect(seen("outside")).toBe(false);
  });
});
