/**
 * CI guard for the migrations (style.md: CI fails on schema drift):
 * 1. drizzle-kit generates nothing new from db/schema.ts (the committed migrations are complete);
 * 2. journal timestamps only increase (drizzle's migrator skips a migration older than the newest
 *    applied one, scimmy-pitfalls.md "drizzle + better-sqlite3").
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const migrations = join(root, "db", "migrations");
const journal = JSON.parse(readFileSync(join(migrations, "meta", "_journal.json"), "utf8")) as { entries: { tag: string; when: number }[] };

let failed = false;
for (let i = 1; i < journal.entries.length; i++) {
  const [a, b] = [journal.entries[i - 1]!, journal.entries[i]!];
  if (b.when <= a.when) {
    console.error(`migration ${b.tag} has a timestamp (${b.when}) not after ${a.tag} (${a.when})`);
    failed = true;
  }
}

const scratch = mkdtempSync(join(tmpdir(), "scimbridge-drift-"));
try {
  cpSync(migrations, join(scratch, "migrations"), { recursive: true });
  const config = join(scratch, "drizzle.config.json");
  // drizzle-kit resolves `out` relative to the working directory, even an absolute one.
  writeFileSync(config, JSON.stringify({ dialect: "sqlite", schema: "./db/schema.ts", out: relative(root, join(scratch, "migrations")) }));
  const before = readdirSync(join(scratch, "migrations")).length;
  const output = execFileSync(join(root, "node_modules", ".bin", "drizzle-kit"), ["generate", "--config", config, "--name", "drift"], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    encoding: "utf8",
  });
  // drizzle-kit can print an error and still exit 0; only its "nothing to migrate" line means no drift.
  if (!/No schema changes|Your SQL migration file/.test(output)) {
    console.error(`drizzle-kit generate did not run cleanly:\n${output}`);
    failed = true;
  }
  const after = readdirSync(join(scratch, "migrations"));
  if (after.length !== before) {
    console.error(`db/schema.ts differs from the committed migrations: run \`npm run db:generate\` and commit (${after.filter((f) => f.includes("drift")).join(", ")})`);
    failed = true;
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
if (failed) process.exit(1);
console.log(`migrations ok: ${journal.entries.length} applied in order, no schema drift`);
