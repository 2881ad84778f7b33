/**
 * The migration from the fan-out's position (worker_cursor) to a mark per change row: a database
 * written before it keeps what was fanned out as fanned out, and what was not still waits.
 */
import Database from "better-sqlite3";
import { drizzle } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { openStore } from "../../db/open.js";
import { migrationsBefore } from "../helpers/migrations.js";

const MIGRATION = "0007_outbox_fanned_out";
const dir = mkdtempSync(join(tmpdir(), "scimbridge-outbox-migration-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("changes up to the old cursor are fanned out; the ones after it still wait", async () => {
  const file = join(dir, "old.db");
  const old = new Database(file);
  migrate(drizzle(old), { migrationsFolder: migrationsBefore(dir, MIGRATION) });
  const insert = old.prepare("INSERT INTO changes (resource_type, resource_id, op, version, at) VALUES ('User', ?, 'create', 1, '2026-01-01T00:00:00.000Z')");
  for (const id of ["u1", "u2", "u3", "u4", "u5"]) insert.run(id);
  old.prepare("INSERT INTO worker_cursor (name, seq) VALUES ('outbox', 3)").run();
  old.close();

  const store = openStore(file);
  try {
    expect((await store.sync.unfanned(100)).rows.map((r) => r.id)).toEqual(["u4", "u5"]);
    expect(store.sqlite.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'worker_cursor'").get()).toEqual({ n: 0 });
  } finally {
    await store.close();
  }
});
