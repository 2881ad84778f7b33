/** `scimbridge config check|schema`: validate the configuration; print its JSON Schema for editors. */
import type { Command } from "commander";
import { ConfigError } from "../config/load.js";
import { configJsonSchema, type Config } from "../config/schema.js";
import { describeSource, globalsOf, loadFor } from "./context.js";
import { CommandError, EXIT, out, say } from "./io.js";

/** Redacts secrets from the effective config before printing it. */
export function redacted(config: Config): unknown {
  return JSON.parse(JSON.stringify(config), (k, v: unknown) => (/password|secret|token|signingKey/i.test(k) && typeof v === "string" ? "[redacted]" : v));
}

export function registerConfig(program: Command): void {
  const config = program.command("config").description("check the configuration; print its JSON Schema");
  config
    .command("check")
    .description("validate the configuration and print the effective values (secrets redacted); with --json an invalid file is {\"valid\": false, \"errors\": [...]} on stdout, exit 2")
    .action(async (_o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      let loaded;
      try {
        loaded = loadFor(g);
      } catch (e) {
        if (!(e instanceof ConfigError) || !g.json) throw e;
        // The verdict is this command's data: on stdout, as JSON, whichever way it went.
        out(JSON.stringify({ valid: false, message: e.message.split("\n")[0], errors: e.issues }));
        throw new CommandError("", EXIT.usage);
      }
      const { config: c, source } = loaded;
      const { checkConfig } = await import("./config-check.js");
      // Rules sharing a base: said on stderr, so --json output stays the config alone.
      for (const warning of checkConfig(c)) say(warning);
      if (g.json) out(JSON.stringify(redacted(c)));
      else out(`config ok: ${describeSource(source)}\n${JSON.stringify(redacted(c), null, 2)}`);
    });
  config
    .command("schema")
    .description("print the configuration's JSON Schema (for a YAML language server in an editor)")
    .action(() => out(JSON.stringify(configJsonSchema(), null, 2)));
}
