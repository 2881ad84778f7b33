#!/usr/bin/env node
/**
 * The `scimbridge` command: serve, token create|list|revoke, config check, preview, conformance.
 * Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.
 */
import { parseArgs } from "node:util";
import { openStore } from "../db/open.js";
import { ConfigError, configPath, loadConfig } from "./config/load.js";
import type { Config } from "./config/schema.js";
import { TokenError, TokenService } from "./auth/tokens.js";
import { secretKeyOf } from "./secret-key.js";
import { startServer } from "./serve.js";
import { ServeLockHeldError } from "./serve-lock.js";
import { existsSync } from "node:fs";
import { SyncQueries } from "../db/sync.js";
import { formatPreview, previewUser, printablePreview } from "../hooks/delivery/preview.js";
import type { WrittenEntry } from "../hooks/planning/planner.js";
import { ScimError } from "../schemas/errors.js";
import { createApp, type App } from "./app.js";
import { createLogger } from "./logger.js";
import { embeddedRuleConfig } from "./provisioning.js";
import { compileGroupRules, compileRules } from "./provisioning.js";
import { describeOverlap, overlappingRules } from "../hooks/rules/rule-overlap.js";
import { SchemaRegistry } from "../schemas/registry.js";
import { conformance, conformanceUsageError } from "./conformance/command.js";
import { conformanceClients, clientsUsageError } from "./conformance/clients/command.js";
import { AdminUsageError, adminCommand, type AdminCommand } from "./admin/commands.js";
import { AuditLog } from "./observability/audit.js";
import { reconcileCommand } from "./reconcile.js";

const USAGE = `usage: scimbridge <command> [--config FILE]

commands:
  serve                 run the SCIM service (default config: SQLite under ./data, 127.0.0.1:8080)
  token create NAME     issue a bearer token for a SCIM client (printed once)
  token list            list token names (never the tokens)
  token revoke NAME     revoke a token
  config check          validate the configuration and print the effective values
  preview --user ID     dry run: for each rule, the DN and LDAP operations a user's delivery
                        would send now (id or userName), without contacting any directory
  conformance --base URL (--token T | --basic user:pass) [--client NAME] [--only AREA|ID]
              [--skip AREA|ID] [--json] [--junit FILE]
                        test any SCIM server: checks by area (auth, crud, patch, membership,
                        filter, paging, sort, etag, bulk, errors, referential, encoding,
                        concurrency) and replays of what PingFederate, PingOne, Entra ID and Okta
                        send; NAME: checks, rfc, pingfederate, pingone, entra, okta (default all).
                        Exit 1 when a MUST fails, 2 when the server is unreachable or refuses
                        the credentials
  conformance clients --base URL --token ADMIN_TOKEN [--since ISO] [--json]
                        what each identity provider sent (from a running server's traffic
                        inspector): per client, each request shape, RFC 7644 or a known dialect,
                        and whether scimbridge accepted or refused it (docs/conformance.md)
  status                deliveries per target and rule, counted by state
  failures [--target T] [--rule R]
                        failed and retrying deliveries with the LDAP result code and message
  retry (--all | TYPE/ID)
                        set failed and retrying deliveries (all, or of one resource such as
                        User/<id>) back to pending with a fresh attempt budget
  resync TYPE/ID        queue a full redelivery of one resource to every rule (via the outbox)
  reconcile [--target T] [--dry-run] [--delete-unmanaged [--yes]]
                        compare each rule's expected entries with the directory (paged search
                        under the rule's base) and report missing, differing (attributes and
                        account state), extra (written by the rule) and unmanaged (not written
                        by it) entries; without --dry-run, queue their repair (delivered by a
                        running server's worker, or the next serve). A rule's own leftovers are
                        deprovisioned with its action; unmanaged entries are deleted only with
                        --delete-unmanaged (and --yes on a terminal). Exit 0 no drift, 3 drift
                        found or repaired, 1 a rule or target failed
                        status, failures, retry and resync work on the database file directly,
                        with or without a running server; a running server's worker picks
                        changed rows up on its next poll (provisioning.pollMs)
  audit export [--since ISO] [--kind scim|ldap]
                        print the audit log (SCIM and LDAP writes), oldest first, as JSON lines

options:
  --config FILE         YAML configuration (or SCIMBRIDGE_CONFIG); without one, defaults apply
  --json                machine-readable output (token list, config check, preview, status,
                        failures, retry, resync, reconcile)
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
  return JSON.parse(JSON.stringify(config), (k, v: unknown) => (/password|secret|token|signingKey/i.test(k) && typeof v === "string" ? "[redacted]" : v));
}

/** `preview`: the worker's decision for one user per rule, computed from the store, nothing sent. */
async function preview(given: Config, who: string, json: boolean): Promise<number> {
  if (!existsSync(given.storage.file)) {
    process.stderr.write(`no database at ${given.storage.file}; nothing to preview\n`);
    return 1;
  }
  // The embedded directory's rule is previewed too, without starting its slapd.
  const e = given.embeddedDirectory;
  const config = e.enabled ? embeddedRuleConfig(given, `ldap://127.0.0.1:${e.port}`) : given;
  const store = openStore(config.storage.file);
  try {
    const app = createApp({ config, store, logger: createLogger("silent") });
    const user = findUser(app, who);
    if (!user) {
      process.stderr.write(`no user with id or userName ${JSON.stringify(who)}\n`);
      return 1;
    }
    const sync = new SyncQueries(store.db);
    const id = String(user.id);
    const previews = await previewUser({
      rules: compileRules(config, app.registry),
      targets: config.targets,
      user,
      stateOf: (rule) => {
        const row = sync.get("User", id, rule);
        if (!row) return undefined;
        return { state: row.state, written: row.written ? (JSON.parse(row.written) as WrittenEntry) : undefined, passwordPending: row.secret !== null };
      },
    });
    if (json) out(JSON.stringify({ user: { id, userName: user.userName }, rules: previews.map(printablePreview) }));
    else {
      out(`user ${String(user.userName)} (${id})`);
      if (!previews.length) out("no rules configured");
      for (const line of formatPreview(previews)) out(line);
    }
    return 0;
  } finally {
    store.close();
  }
}

/** By id, else by userName (case-insensitive, as SCIM compares it). */
function findUser(app: App, who: string): Record<string, unknown> | undefined {
  try {
    return app.service.get("User", who, { baseUrl: "" }).resource;
  } catch (e) {
    if (!(e instanceof ScimError && e.status === 404)) throw e;
  }
  const found = app.service.list("User", { filter: `userName eq ${JSON.stringify(who)}`, descending: false, startIndex: 1, count: 1 }, { baseUrl: "" });
  return found.resources[0];
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: "string" },
      json: { type: "boolean", default: false },
      user: { type: "string" },
      base: { type: "string" },
      token: { type: "string" },
      basic: { type: "string" },
      client: { type: "string", multiple: true },
      junit: { type: "string" },
      only: { type: "string", multiple: true },
      skip: { type: "string", multiple: true },
      target: { type: "string" },
      rule: { type: "string" },
      all: { type: "boolean", default: false },
      since: { type: "string" },
      kind: { type: "string" },
      "dry-run": { type: "boolean", default: false },
      "delete-unmanaged": { type: "boolean", default: false },
      yes: { type: "boolean", default: false },
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
        const tokens = new TokenService(store.db, secretKeyOf(config));
        if (sub === "create") {
          if (!arg) throw new UsageError("token create needs a NAME");
          const token = tokens.create(arg);
          out(values.json ? JSON.stringify({ name: arg, token }) : token);
          if (!values.json) process.stderr.write(`token ${arg} created; it is shown only now, store it securely\n`);
        } else if (sub === "list") {
          const list = tokens.list();
          if (values.json) out(JSON.stringify(list));
          else for (const t of list) out(`${t.name}\t${t.hint}…\tcreated ${t.created}\tlast used ${t.lastUsed ?? "never"}`);
          for (const name of tokens.storedUnderOtherKey()) process.stderr.write(`token ${name} was stored under another secret key and cannot work: revoke and re-create it\n`);
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
      const registry = new SchemaRegistry(config.scim.extensions);
      // Rules sharing a base: said on stderr, so --json output stays the config alone.
      for (const o of overlappingRules([...compileRules(config, registry), ...compileGroupRules(config, registry)])) process.stderr.write(`${describeOverlap(o)}\n`);
      out(values.json ? JSON.stringify(redacted(config)) : `config ok\n${JSON.stringify(redacted(config), null, 2)}`);
      return 0;
    }
    case "preview": {
      if (!values.user) throw new UsageError("preview needs --user <id|userName>");
      return preview(load(values.config), values.user, values.json);
    }
    case "conformance": {
      if (sub === "clients") {
        const usage = clientsUsageError(values);
        if (usage) throw new UsageError(usage);
        return conformanceClients(values, out);
      }
      const problem = conformanceUsageError(values);
      if (problem) throw new UsageError(problem);
      return conformance(values, out);
    }
    case "status":
    case "failures":
    case "retry":
    case "resync": {
      const config = load(values.config);
      try {
        return adminCommand(command satisfies AdminCommand, config, { json: values.json, target: values.target, rule: values.rule, all: values.all, resource: sub }, out);
      } catch (e) {
        if (e instanceof AdminUsageError) throw new UsageError(e.message);
        throw e;
      }
    }
    case "reconcile":
      return reconcileCommand(load(values.config), { json: values.json, dryRun: values["dry-run"], target: values.target, deleteUnmanaged: values["delete-unmanaged"], yes: values.yes }, out);
    case "audit": {
      if (sub !== "export") throw new UsageError(`unknown audit command ${sub ?? "(none)"}`);
      if (values.since !== undefined && Number.isNaN(Date.parse(values.since))) throw new UsageError("--since must be an ISO 8601 time");
      if (values.kind !== undefined && values.kind !== "scim" && values.kind !== "ldap") throw new UsageError("--kind must be scim or ldap");
      const config = load(values.config);
      if (!existsSync(config.storage.file)) {
        process.stderr.write(`no database at ${config.storage.file}; nothing to export\n`);
        return 1;
      }
      const store = openStore(config.storage.file);
      try {
        const since = values.since === undefined ? undefined : new Date(values.since).toISOString();
        for (const row of new AuditLog(store.db).export({ since, kind: values.kind })) out(JSON.stringify(row));
      } finally {
        store.close();
      }
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
    } else if (e instanceof ServeLockHeldError) {
      process.stderr.write(`scimbridge: ${e.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`scimbridge: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    }
  },
);
