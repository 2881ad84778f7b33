/** `scimbridge reconcile`: find and repair drift (the logic is server/reconcile.ts). Exit 0, 3, 1 or 2. */
import type { Command } from "commander";
import { globalsOf, loadFor, sayDatabase } from "./context.js";
import { out } from "./io.js";

export function registerReconcile(program: Command): void {
  program
    .command("reconcile")
    .description(
      "compare each rule's expected entries with the directory and report missing, differing, extra and unmanaged entries; without --dry-run queue their repair. Exit 0 no drift, 3 drift found or repairs queued, 1 a rule or target failed, 2 usage",
    )
    .option("--target <name>", "only the rules of this target")
    .option("--dry-run", "report only; change nothing")
    .option("--delete-unmanaged", "also delete entries no rule wrote (needs --yes on a terminal)")
    .option("--yes", "confirm --delete-unmanaged")
    .action(async (o: { target?: string; dryRun?: boolean; deleteUnmanaged?: boolean; yes?: boolean }, cmd: Command) => {
      const g = globalsOf(cmd);
      const loaded = loadFor(g);
      const { reconcileCommand } = await import("../reconcile.js");
      const code = await reconcileCommand(loaded.config, { json: g.json, dryRun: o.dryRun === true, target: o.target, deleteUnmanaged: o.deleteUnmanaged === true, yes: o.yes === true }, out);
      if (code !== 0) process.exitCode = code;
      // Repairs were queued (drift, not a dry run): they went into this database.
      if (code === 3 && !o.dryRun) sayDatabase(loaded);
    });
}
