/** `scimbridge conformance` and `conformance clients`: test any SCIM server; what each IdP sent. */
import type { Command } from "commander";
import type { ConformanceArgs } from "../conformance/command.js";
import type { ClientsArgs } from "../conformance/clients/command.js";
import { globalsOf } from "./context.js";
import { out, UsageError } from "./io.js";

/** A repeatable option: each use adds (commas split later, as before). */
const collect = (v: string, all: string[] = []) => [...all, v];

/** Sets the exit code of a command that reports its own outcome (commander's action returns nothing). */
const exitWith = (code: number) => {
  if (code !== 0) process.exitCode = code;
};

export function registerConformance(program: Command): void {
  const cmd = program
    .command("conformance")
    .description(
      "test any SCIM server: checks by area (auth, crud, patch, membership, filter, paging, sort, etag, bulk, errors, referential, encoding, concurrency) and replays of what PingFederate, PingOne, Entra ID and Okta send. Exit 1 when a MUST fails, 2 when the server is unreachable or refuses the credentials",
    )
    .option("--base <url>", "the SCIM base URL, e.g. https://host/scim/v2")
    .option("--token <token>", "bearer token")
    .option("--basic <user:pass>", "HTTP Basic credentials")
    .option("--client <name>", "checks, rfc, pingfederate, pingone, entra, okta (repeatable or comma-separated; default all)", collect)
    .option("--only <area|id>", "run only these areas or steps (repeatable)", collect)
    .option("--skip <area|id>", "skip these areas or steps (repeatable)", collect)
    .option("--junit <file>", "also write a JUnit XML report")
    .action(async (o: Omit<ConformanceArgs, "json">, c: Command) => {
      const a = { ...o, json: globalsOf(c).json };
      const { conformance, conformanceUsageError } = await import("../conformance/command.js");
      const problem = conformanceUsageError(a);
      if (problem) throw new UsageError(problem);
      exitWith(await conformance(a, out));
    });
  cmd
    .command("clients")
    .description("what each identity provider sent (a running server's traffic inspector): per client, each request shape, RFC 7644 or a known dialect, accepted or refused")
    .option("--base <url>", "the scimbridge server, e.g. http://127.0.0.1:8080")
    .option("--token <token>", "an admin token")
    .option("--since <iso>", "only traffic since this time")
    .action(async (o: Omit<ClientsArgs, "json">, c: Command) => {
      // The parent's --base/--token are parsed by it when given before `clients`.
      const a = { ...c.parent!.opts<Omit<ClientsArgs, "json">>(), ...o, json: globalsOf(c).json };
      const { clientsUsageError, conformanceClients } = await import("../conformance/clients/command.js");
      const problem = clientsUsageError(a);
      if (problem) throw new UsageError(problem);
      exitWith(await conformanceClients(a, out));
    });
}
