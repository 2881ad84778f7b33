#!/usr/bin/env node
/**
 * The `scimbridge` command: serve, token create|list|revoke, config check.
 * Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.
 */
import { parseArgs } from "node:util";
import { openStore } from "../db/open.js";
import { ConfigError, configPath, loadConfig } from "./config/load.js";
import type { Config } from "./config/schema.js";
import { TokenError, TokenService } from "./auth/tokens.js";
import { startServer } from "./serve.js";
import { compileRules } from "./provisioning.js";
import { SchemaRegistry } from "../schemas/registry.js";

const USAGE = `usage: scimbridge <command> [--config FILE]

commands:
  serve                 run the SCIM service (default config: SQLite under ./data, 127.0.0.1:8080)
  token create NAME     issue a bearer token for a SCIM client (printed once)
  token list            list token names (never the tokens)
  token revoke NAME     revoke a token
  config check          validate the configuration and print the effective values

options:
  --config FILE         YAML configuration (or SCIMBRIDGE_CONFIG); without one, defaults apply
  --json                machine-readable output (token list, config check)
  -h, --help            this text`;

class UsageError extends Error {}

function out(line: string): void {
  process.stdout.write(line + "\n");
}

function load(flag: string | undefined): Config {
  return loadConfig(configPath(flag));
}

/** Redacts secrets from the effective config before printing it. */
function redacted(config: Config): unknown {
  return JSON.parse(JSON.stringify(config), (k, v: unknown) => (/password|secret|token/i.test(k) && typeof v === "string" ? "[redacted]" : v));
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const [command, sub, arg] = positionals;
  if (values.help || command === undefined) {
    out(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  switch (command) {
    case "serve": {
      const config = load(values.config);
      await startServer(config, { env: process.env });
      return 0;
    }
    case "token": {
      const config = load(values.config);
      const store = openStore(config.storage.file);
      try {
        const tokens = new TokenService(store.db);
        if (sub === "create") {
          if (!arg) throw new UsageError("token create needs a NAME");
          const token = tokens.create(arg);
          out(values.json ? JSON.stringify({ name: arg, token }) : token);
          if (!values.json) process.stderr.write(`token ${arg} created; it is shown only now, store it securely\n`);
        } else if (sub === "list") {
          const list = tokens.list();
          if (values.json) out(JSON.stringify(list));
          else for (const t of list) out(`${t.name}\t${t.hint}…\tcreated ${t.created}\tlast used ${t.lastUsed ?? "never"}`);
        } else if (sub === "revoke") {
          if (!arg) throw new UsageError("token revoke needs a NAME");
          if (!tokens.revoke(arg)) {
            process.stderr.write(`no token named ${arg}\n`);
            return 1;
          }
          out(`token ${arg} revoked`);
        } else {
          throw new UsageError(`unknown token command ${sub ?? "(none)"}`);
        }
      } finally {
        store.close();
      }
      return 0;
    }
    case "config": {
      if (sub !== "check") throw new UsageError(`unknown config command ${sub ?? "(none)"}`);
      const config = load(values.config);
      // Rules are compiled against the schema registry too (filter paths, mappings, DN templates).
      compileRules(config, new SchemaRegistry(config.scim.extensions));
      out(values.json ? JSON.stringify(redacted(config)) : `config ok\n${JSON.stringify(redacted(config), null, 2)}`);
      return 0;
    }
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError || (e as { code?: string }).code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      process.stderr.write(`${(e as Error).message}\n\n${USAGE}\n`);
      process.exitCode = 2;
    } else if (e instanceof ConfigError || e instanceof TokenError) {
      process.stderr.write(`${e.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`scimbridge: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    }
  },
);
