/**
 * CI guard for the migrations of both engines (style.md: CI fails on schema drift), each checked
 * the same way:
 * 1. drizzle-kit generates nothing new from the schema (the committed migrations are complete);
 * 2. journal timestamps only increase (drizzle's migrator skips a migration older than the newest
 *    applied one, scimmy-pitfalls.md "drizzle + better-sqlite3"; the node-postgres migrator
 *    compares the same `when` with the last applied migration's created_at).
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");

interface Dialect {
  dialect: "sqlite" | "postgresql";
  schema: string;
  /** The committed migrations, relative to the repository. */
  out: string;
  generate: string;
}

const DIALECTS: Dialect[] = [
  { dialect: "sqlite", schema: "./db/schema.ts", out: "db/migrations", generate: "npm run db:generate" },
  { dialect: "postgresql", schema: "./db/schema-pg.ts", out: "db/migrations-pg", generate: "npm run db:generate:pg" },
];

/** The problems found for one dialect; empty when its migrations are complete and in order. */
function check(d: Dialect): { problems: string[]; count: number } {
  const problems: string[] = [];
  const migrations = join(root, d.out);
  const journal = JSON.parse(readFileSync(join(migrations, "meta", "_journal.json"), "utf8")) as { entries: { tag: string; when: number }[] };
  for (let i = 1; i < journal.entries.length; i++) {
    const [a, b] = [journal.entries[i - 1]!, journal.entries[i]!];
    if (b.when <= a.when) problems.push(`migration ${b.tag} has a timestamp (${b.when}) not after ${a.tag} (${a.when})`);
  }

  const scratch = mkdtempSync(join(tmpdir(), "scimbridge-drift-"));
  try {
    cpSync(migrations, join(scratch, "migrations"), { recursive: true });
    const config = join(scratch, "drizzle.config.json");
    // drizzle-kit resolves `out` relative to the working directory, even an absolute one.
    writeFileSync(config, JSON.stringify({ dialect: d.dialect, schema: d.schema, out: relative(root, join(scratch, "migrations")) }));
    const before = readdirSync(join(scratch, "migrations")).length;
    const output = execFileSync(join(root, "node_modules", ".bin", "drizzle-kit"), ["generate", "--config", config, "--name", "drift"], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      encoding: "utf8",
    });
    // drizzle-kit can print an error and still exit 0; only its "nothing to migrate" line means no drift.
    if (!/No schema changes|Your SQL migration file/.test(output)) problems.push(`drizzle-kit generate did not run cleanly:\n${output}`);
    const after = readdirSync(join(scratch, "migrations"));
    if (after.length !== before) {
      problems.push(`${d.schema} differs from the committed migrations: run \`${d.generate}\` and commit (${after.filter((f) => f.includes("drift")).join(", ")})`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return { problems, count: journal.entries.length };
}

let failed = false;
for (const d of DIALECTS) {
  const { problems, count } = check(d);
  for (const p of problems) console.error(`${d.dialect}: ${p}`);
  if (problems.length) failed = true;
  else console.log(`${d.dialect} migrations ok (${d.out}): ${count} in order, no schema drift`);
}
if (failed) process.exit(1);
