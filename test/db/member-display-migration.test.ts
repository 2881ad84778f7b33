/**
 * The migration that keeps members.display with the membership row fills it in for a database
 * written before it: a user's displayName, else its userName; a group's displayName.
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

const MIGRATION = "0006_member_display_and_sort_indexes";
const dir = mkdtempSync(join(tmpdir(), "scimbridge-migration-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("fills members.display for memberships written before it", async () => {
  const file = join(dir, "old.db");
  const old = new Database(file);
  migrate(drizzle(old), { migrationsFolder: migrationsBefore(dir, MIGRATION) });
  const at = "2026-01-01T00:00:00.000Z";
  const insertUser = old.prepare("INSERT INTO users (id, user_name, user_name_key, data, created, last_modified, version) VALUES (?, ?, ?, ?, ?, ?, 1)");
  insertUser.run("u1", "ann", "ann", JSON.stringify({ userName: "ann", displayName: "Ann Liddell" }), at, at);
  insertUser.run("u2", "bob", "bob", JSON.stringify({ userName: "bob" }), at, at);
  const insertGroup = old.prepare("INSERT INTO groups (id, display_name, display_name_key, data, created, last_modified, version) VALUES (?, ?, ?, ?, ?, ?, 1)");
  insertGroup.run("g1", "Inner", "inner", JSON.stringify({ displayName: "Inner" }), at, at);
  insertGroup.run("g2", "Outer", "outer", JSON.stringify({ displayName: "Outer" }), at, at);
  const member = old.prepare("INSERT INTO group_members (group_id, member_id, member_type) VALUES ('g2', ?, ?)");
  member.run("u1", "User");
  member.run("u2", "User");
  member.run("g1", "Group");
  old.close();

  const store = openStore(file);
  try {
    expect(await store.resources.members("g2")).toEqual([
      { value: "u1", type: "User", display: "Ann Liddell" },
      { value: "u2", type: "User", display: "bob" },
      { value: "g1", type: "Group", display: "Inner" },
    ]);
  } finally {
    await store.close();
  }
});
