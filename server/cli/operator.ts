/**
 * `scimbridge status | retry | resync`: the admin API's queries and actions run on the database
 * file directly (server/admin/commands.ts), with or without a running server.
 */
import type { Command } from "commander";
import type { AdminCommand, AdminCommandArgs } from "../admin/commands.js";
import { globalsOf, loadFor, sayDatabase } from "./context.js";
import { out, UsageError } from "./io.js";

async function run(command: AdminCommand, cmd: Command, args: Omit<AdminCommandArgs, "json">): Promise<void> {
  const g = globalsOf(cmd);
  const loaded = loadFor(g);
  const { AdminUsageError, adminCommand } = await import("../admin/commands.js");
  let code: number;
  try {
    code = await adminCommand(command, loaded.config, { ...args, json: g.json }, out);
  } catch (e) {
    if (e instanceof AdminUsageError) throw new UsageError(e.message);
    throw e;
  }
  if (code !== 0) process.exitCode = code;
  else if (command !== "status") sayDatabase(loaded);
}

export function registerOperator(program: Command): void {
  program
    .command("status")
    .description("deliveries per target and rule, counted by state (in_sync, pending, retrying, failed, out_of_scope, needs_password)")
    .action((_o: unknown, cmd: Command) => run("status", cmd, {}));
  program
    .command("retry")
    .description("set failed and retrying deliveries (all, or of one resource) back to pending with a fresh attempt budget")
    .argument("[resource]", "TYPE/ID, e.g. User/2819c223-7f76-453a-919d-413861904646")
    .option("--all", "every failed and retrying delivery")
    .action((resource: string | undefined, o: { all?: boolean }, cmd: Command) => run("retry", cmd, { resource, all: o.all === true }));
  program
    .command("resync")
    .description("queue a full redelivery of one resource to every rule (through the outbox)")
    .argument("[resource]", "TYPE/ID, e.g. User/2819c223-7f76-453a-919d-413861904646")
    .action((resource: string | undefined, _o: unknown, cmd: Command) => run("resync", cmd, { resource }));
}
