/**
 * Builds the provisioning side from config: LDAP target connections, compiled rules, the secret
 * key and the delivery worker; and, for the embedded default, a local slapd with one rule.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Logger } from "pino";
import type { Store } from "../db/open.js";
import { compileRule, RuleError, type CompiledRule } from "../hooks/rules/mapping.js";
import { groupRuleSchema } from "../hooks/rules/group-config.js";
import { compileDeliverableGroupRule, type DeliverableGroupRule } from "../hooks/rules/group-rule.js";
import { DeliveryWorker, LdapTarget, startSlapd, type SlapdHandle, type Target, type WorkerOptions } from "../hooks/delivery/index.js";
import type { TargetConfig, UserRuleConfig } from "../hooks/rules/config.js";
import type { SchemaRegistry } from "../schemas/registry.js";
import { ConfigError, parseConfig } from "./config/load.js";
import { secretFile, secretKeyOf } from "./secret-key.js";
import type { Config } from "./config/schema.js";

export interface EmbeddedDirectory {
  slapd: SlapdHandle;
  /** The config with the embedded target and rule added. */
  config: Config;
}

/**
 * Starts the embedded slapd (data kept under embeddedDirectory.dir across restarts) and adds a
 * target and one `openldap` rule for it: users land at uid=<userName>,ou=people,<suffix>.
 */
export async function startEmbeddedDirectory(config: Config): Promise<EmbeddedDirectory> {
  const e = config.embeddedDirectory;
  const dir = resolve(e.dir);
  await stopOrphanSlapd(dir);
  // The root password is needed in clear to bind; it stays in a 0600 file beside slapd's data.
  const rootPassword = secretFile(embeddedRootPasswordFile(config), () => randomBytes(24).toString("base64url"));
  const slapd = await startSlapd({ dir, port: e.port, suffix: e.suffix, rootPassword });
  return { slapd, config: embeddedRuleConfig(config, slapd.url, { dn: slapd.rootDn, password: rootPassword }) };
}

/** Where the embedded slapd's root password is kept (0600, beside its data directory). */
function embeddedRootPasswordFile(config: Config): string {
  return join(resolve(config.embeddedDirectory.dir), "..", "slapd.rootpw");
}

/**
 * The config with the embedded target bound as `serve` binds it (the root DN and the password
 * `serve` keeps), for commands that contact the running embedded slapd (`reconcile`). Undefined
 * when `serve` never started it (no password yet).
 */
export function embeddedConfigForClients(config: Config): Config | undefined {
  const file = embeddedRootPasswordFile(config);
  if (!existsSync(file)) return undefined;
  const e = config.embeddedDirectory;
  // startSlapd's root DN for this suffix.
  const bind = { dn: `cn=admin,${e.suffix}`, password: readFileSync(file, "utf8").trim() };
  return embeddedRuleConfig(config, `ldap://127.0.0.1:${e.port}`, bind);
}

/**
 * The config with the embedded directory's target and its one `openldap` rule added (pure: starts
 * nothing). `preview` uses it without a running slapd; the bind defaults to the root DN slapd is
 * started with and a placeholder password (nothing is contacted then).
 */
export function embeddedRuleConfig(config: Config, url: string, bind?: { dn: string; password: string }): Config {
  const e = config.embeddedDirectory;
  const target = {
    name: "embedded",
    directory: "openldap",
    urls: [url],
    bindDn: bind?.dn ?? `cn=admin,${e.suffix}`,
    bindPassword: bind?.password ?? "unused",
  };
  const rule = { name: "embedded-users", target: "embedded", dn: `uid={userName},ou=people,${e.suffix}` };
  // Groups too (groupOfNames, members as member DNs, empty groups kept with the placeholder):
  // what a client pointed at the embedded default sends is visible in the directory.
  const groupRule = { name: "embedded-groups", target: "embedded", dn: `cn={displayName},ou=groups,${e.suffix}` };
  const doc = JSON.parse(
    JSON.stringify({ ...config, targets: [...config.targets, target], userRules: [...config.userRules, rule], groupRules: [...config.groupRules, groupRule] }),
  ) as Record<string, unknown>;
  return parseConfig(doc, {}, "embedded default");
}

/**
 * A service killed with SIGKILL cannot take its slapd child with it (the kernel does not tell the
 * child); the orphan still holds the port and the data. Stop it, if it is ours, before starting.
 */
async function stopOrphanSlapd(dir: string): Promise<void> {
  const pidFile = join(dir, "slapd.pid");
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 1) return;
  let cmdline = "";
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return; // not running
  }
  if (!cmdline.includes("slapd") || !cmdline.includes(dir)) return;
  process.kill(pid, "SIGTERM");
  for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 50));
  if (existsSync(`/proc/${pid}`)) process.kill(pid, "SIGKILL");
}

/** Compiles every user rule against the schema registry; an error names the rule's key path. */
export function compileRules(config: Config, registry: SchemaRegistry): CompiledRule[] {
  return compileEach(config, "userRules", config.userRules, (rule, target) => compileRule(registry, rule, target));
}

/** Compiles every group rule; an error names the rule's key path. */
export function compileGroupRules(config: Config, registry: SchemaRegistry): DeliverableGroupRule[] {
  return compileEach(config, "groupRules", config.groupRules, (rule, target) => compileDeliverableGroupRule(registry, rule, target));
}

/** A RuleError becomes a ConfigError at `<key>.<index>.<rule key>` (targets are checked by the schema). */
function compileEach<R extends { target: string }, C>(config: Config, key: string, rules: R[], compile: (rule: R, target: Config["targets"][number]) => C): C[] {
  return rules.map((rule, i) => {
    const target = config.targets.find((t) => t.name === rule.target)!;
    try {
      return compile(rule, target);
    } catch (e) {
      if (e instanceof RuleError) throw new ConfigError("config is invalid", [`${key}.${i}.${e.key}: ${e.message}`]);
      throw e;
    }
  });
}

export function connectTargets(targets: TargetConfig[]): Map<string, Target> {
  return new Map(
    targets.map((t) => [
      t.name,
      {
        config: t,
        connection: new LdapTarget({
          name: t.name,
          urls: t.urls,
          bindDn: t.bindDn,
          bindPassword: t.bindPassword,
          tls: { caFile: t.tls?.caFile, rejectUnauthorized: t.tls?.rejectUnauthorized ?? true, startTls: t.startTls },
          timeoutMs: t.timeoutMs,
          connectTimeoutMs: t.connectTimeoutMs,
          concurrency: t.concurrency,
        }),
      },
    ]),
  );
}

/**
 * Rules seen before but absent from this config. Each is compiled from its last-seen config so
 * its entries can be deprovisioned per its onRuleRemoved action; one whose target is gone too
 * cannot be reached and is only reported.
 *
 * On PostgreSQL nothing is deprovisioned here: replicas share the database, and during a rolling
 * deploy a replica still on the older config does not know a rule the newer config added, so it
 * would take that rule for a removed one and delete or disable its entries. The removal is
 * reported instead (docs/deployment-replicas.md).
 */
async function removedRulesOf(
  config: Config,
  store: Store,
  registry: SchemaRegistry,
  logger: Logger,
): Promise<{ users: CompiledRule[]; groups: DeliverableGroupRule[] }> {
  const configured = new Set([...config.userRules.map((r) => r.name), ...config.groupRules.map((r) => r.name)]);
  const out = { users: [] as CompiledRule[], groups: [] as DeliverableGroupRule[] };
  for (const known of await store.sync.knownRules()) {
    if (configured.has(known.name)) continue;
    if (store.engine === "postgres") {
      logger.warn({ rule: known.name }, "rule not in this config: on PostgreSQL its entries are not deprovisioned automatically (another replica may run a config that has it)");
      continue;
    }
    const target = config.targets.find((t) => t.name === known.target);
    if (!target) {
      logger.warn({ rule: known.name, target: known.target }, "removed rule's target is gone too; its entries are left as they are");
      continue;
    }
    try {
      if (known.kind === "Group") out.groups.push(compileDeliverableGroupRule(registry, groupRuleSchema.parse(JSON.parse(known.config)), target));
      else out.users.push(compileRule(registry, JSON.parse(known.config) as UserRuleConfig, target));
    } catch (e) {
      logger.warn({ rule: known.name, err: e }, "removed rule no longer compiles; its entries are left as they are");
    }
  }
  return out;
}

export interface Provisioning {
  worker: DeliveryWorker;
  targets: Map<string, Target>;
  close(): Promise<void>;
}

export async function createProvisioning(o: {
  config: Config;
  store: Store;
  registry: SchemaRegistry;
  logger: Logger;
  /** Delivery outcomes and timings (the app's metrics). */
  onDelivery?: WorkerOptions["onDelivery"];
  onLdapWrite?: WorkerOptions["onLdapWrite"];
}): Promise<Provisioning> {
  const rules = compileRules(o.config, o.registry);
  const groupRules = compileGroupRules(o.config, o.registry);
  const targets = connectTargets(o.config.targets);
  const removed = await removedRulesOf(o.config, o.store, o.registry, o.logger);
  const p = o.config.provisioning;
  const worker = new DeliveryWorker({
    store: o.store,
    logger: o.logger,
    rules,
    removedRules: removed.users,
    groupRules,
    removedGroupRules: removed.groups,
    targets,
    registry: o.registry,
    secretKey: secretKeyOf(o.config),
    maxAttempts: p.maxAttempts,
    retry: { initialMs: p.retryInitialMs, maxMs: p.retryMaxMs },
    pollMs: p.pollMs,
    leaseMs: p.leaseSeconds * 1000,
    onDelivery: o.onDelivery,
    onLdapWrite: o.onLdapWrite,
  });
  return {
    worker,
    targets,
    async close() {
      await worker.stop();
      await Promise.allSettled([...targets.values()].map((t) => t.connection.close()));
    },
  };
}
