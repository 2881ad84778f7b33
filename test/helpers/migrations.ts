/**
 * The committed SQLite migrations cut before one of them, to build a database as an older version
 * left it and check what that migration does to its rows.
 */
import { cpSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { migrationsFolder } from "../../db/schema-version.js";

/** A copy in `dir` of the committed migrations up to, not including, `tag`. */
export function migrationsBefore(dir: string, tag: string): string {
  const out = join(dir, `before-${tag}`);
  cpSync(migrationsFolder(), out, { recursive: true });
  const journalFile = join(out, "meta", "_journal.json");
  const journal = JSON.parse(readFileSync(journalFile, "utf8")) as { entries: { tag: string }[] };
  const cut = journal.entries.findIndex((e) => e.tag === tag);
  if (cut <= 0) throw new Error(`no migration ${tag} after the first in ${migrationsFolder()}`);
  for (const e of journal.entries.slice(cut)) {
    for (const f of readdirSync(out)) if (f.startsWith(e.tag)) rmSync(join(out, f));
  }
  writeFileSync(journalFile, JSON.stringify({ ...journal, entries: journal.entries.slice(0, cut) }));
  return out;
}
