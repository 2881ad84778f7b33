/** `scimbridge serve`: the SCIM service (server/serve.ts) until SIGTERM or SIGINT. */
import type { Command } from "commander";
import { describeSource, globalsOf, loadFor } from "./context.js";
import { CommandError, say } from "./io.js";

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("run the SCIM service (without a configuration: SQLite under ./data, 127.0.0.1:8080 and an embedded OpenLDAP)")
    .action(async (_o: unknown, cmd: Command) => {
      const loaded = loadFor(globalsOf(cmd));
      const [{ findSlapd }, { startServer }, { ServeLockHeldError }] = await Promise.all([import("../../hooks/delivery/index.js"), import("../serve.js"), import("../serve-lock.js")]);
      let config = loaded.config;
      say(`scimbridge serve: ${describeSource(loaded.source)}`);
      // The built-in defaults ask for the embedded directory; without slapd on this host the SCIM
      // service still runs (changes wait in the outbox), and says so. A config file that asks for
      // it explicitly gets the error instead.
      if (!loaded.source.file && config.embeddedDirectory.enabled && !findSlapd()) {
        say("slapd is not installed: serving SCIM without the embedded directory; install it with: apt-get install -y slapd ldap-utils");
        config = { ...config, embeddedDirectory: { ...config.embeddedDirectory, enabled: false } };
      }
      try {
        await startServer(config, { env: process.env });
      } catch (e) {
        // Another serve on this database: said in one line, without a stack (exit 1).
        if (e instanceof ServeLockHeldError) throw new CommandError(`scimbridge: ${e.message}`);
        throw e;
      }
    });
}
