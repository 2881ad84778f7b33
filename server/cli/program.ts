/**
 * The `scimbridge` command line (commander): one module per command beside this one, global
 * options `--config FILE` and `--json` accepted before or after the command, `--help` on every
 * command, `--version`. Exit codes (README "The command"): 0 ok, 1 runtime failure, 2 usage or
 * configuration error, 3 drift (reconcile). With --json an error is one JSON object on stderr.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Command, CommanderError } from "commander";
import { ConfigError } from "../config/load.js";
import { registerAudit } from "./audit.js";
import { registerConfig } from "./config.js";
import { registerConformance } from "./conformance.js";
import { registerFailures } from "./failures.js";
import { CommandError, EXIT, jsonError, say, UsageError } from "./io.js";
import { registerOperator } from "./operator.js";
import { registerPreview } from "./preview.js";
import { registerReconcile } from "./reconcile.js";
import { registerServe } from "./serve.js";
import { registerToken } from "./token.js";

const HINT = "usage: scimbridge <command> [options]; `scimbridge --help` lists the commands, `scimbridge <command> --help` a command's options";

/** The package's version: package.json two levels up from server/cli (source) or dist/server/cli (build). */
export function packageVersion(): string {
  for (let dir = import.meta.dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, "package.json");
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
    if (pkg.name === "scimbridge" && pkg.version) return pkg.version;
  }
  return "unknown";
}

export function buildProgram(): Command {
  const program = new Command("scimbridge")
    .description("SCIM 2.0 service provider that provisions users and groups into LDAP directories")
    .version(packageVersion(), "-V, --version", "print the version")
    .option("--config <file>", "YAML configuration (else SCIMBRIDGE_CONFIG, else ./scimbridge.yaml, else the built-in defaults)")
    .option("--json", "machine-readable output on stdout; errors as one JSON object on stderr")
    .helpOption("-h, --help", "this help")
    .configureHelp({ styleTitle: (t) => t.toLowerCase(), sortSubcommands: false, showGlobalOptions: true })
    .addHelpText("after", "\nexit codes: 0 ok, 1 runtime failure, 2 usage or configuration error, 3 drift found or repaired (reconcile)")
    .exitOverride();
  registerServe(program);
  registerToken(program);
  registerConfig(program);
  registerPreview(program);
  registerOperator(program);
  registerFailures(program);
  registerReconcile(program);
  registerAudit(program);
  registerConformance(program);
  // Every command: exit codes through exitOverride; commander's own messages captured so that
  // --json can turn them into JSON.
  const apply = (c: Command) => {
    c.exitOverride().configureHelp({ styleTitle: (t) => t.toLowerCase(), showGlobalOptions: true });
    c.commands.forEach(apply);
  };
  program.commands.forEach(apply);
  return program;
}

/** Runs the command; resolves with the exit code (never throws). */
export async function run(argv: string[]): Promise<number> {
  const json = argv.includes("--json");
  const program = buildProgram();
  let commanderMessage = "";
  const capture = (c: Command) => {
    c.configureOutput({ outputError: (s) => (commanderMessage = s.trim()) });
    c.commands.forEach(capture);
  };
  capture(program);
  const fail = (message: string, code: number, issues?: string[]) => {
    if (json) say(jsonError(message, code, issues));
    else if (message) say(message);
    return code;
  };
  if (argv.length === 0) {
    say(program.helpInformation());
    return EXIT.usage;
  }
  try {
    await program.parseAsync(argv, { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version") return EXIT.ok;
      // A command given without its subcommand (`token`) shows that command's help.
      if (e.code === "commander.help") return EXIT.usage;
      return fail(json ? commanderMessage.replace(/^error: /, "") : `${commanderMessage}\n${HINT}`, EXIT.usage);
    }
    if (e instanceof UsageError) return fail(json ? e.message : `${e.message}\n${HINT}`, EXIT.usage);
    if (e instanceof ConfigError) return fail(e.message, EXIT.usage, e.issues);
    if (e instanceof CommandError) return fail(e.message, e.exitCode);
    return fail(`scimbridge: ${(e as Error).stack ?? String(e)}`, EXIT.failed);
  }
}
