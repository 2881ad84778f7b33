/**
 * Loads the YAML config: path from --config or SCIMBRIDGE_CONFIG, `${ENV}` interpolation for
 * secrets, one zod validation. No file means the embedded default (every key defaulted).
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml, YAMLParseError } from "yaml";
import type { z } from "zod";
import { configSchema, type Config } from "./schema.js";

export class ConfigError extends Error {
  constructor(
    message: string,
    readonly issues: string[] = [],
  ) {
    super(issues.length ? `${message}\n${issues.map((i) => `  - ${i}`).join("\n")}` : message);
    this.name = "ConfigError";
  }
}

/**
 * Replaces `${NAME}` and `${NAME:-default}` in every string value (not in keys). A missing
 * variable without a default is an error naming the key, so a secret is never silently empty.
 */
export function interpolateEnv(value: unknown, env: NodeJS.ProcessEnv, path: string[] = [], missing: string[] = []): unknown {
  if (typeof value === "string") {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, fallback?: string) => {
      const v = env[name];
      if (v !== undefined && v !== "") return v;
      if (fallback !== undefined) return fallback;
      missing.push(`${path.join(".") || "(root)"}: environment variable ${name} is not set`);
      return "";
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateEnv(v, env, [...path, String(i)], missing));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, interpolateEnv(v, env, [...path, k], missing)]),
    );
  }
  return value;
}

/** One line per issue: `server.port: expected number, received string`. */
export function formatIssues(issues: z.core.$ZodIssue[]): string[] {
  return issues.map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`);
}

/** Validates an already-parsed document (after interpolation). */
export function parseConfig(doc: unknown, env: NodeJS.ProcessEnv = process.env, source = "config"): Config {
  const missing: string[] = [];
  const interpolated = interpolateEnv(doc ?? {}, env, [], missing);
  if (missing.length) throw new ConfigError(`${source} is invalid`, missing);
  const result = configSchema.safeParse(interpolated);
  if (!result.success) throw new ConfigError(`${source} is invalid`, formatIssues(result.error.issues));
  return result.data;
}

/** Resolves the config path: --config wins over SCIMBRIDGE_CONFIG; none means defaults. */
export function configPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return flag ?? (env.SCIMBRIDGE_CONFIG || undefined);
}

export function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Config {
  // No file: the embedded default, a local slapd with one rule (README "Set-up").
  if (!file) return parseConfig({ embeddedDirectory: { enabled: true } }, env, "default config");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    const where = e instanceof YAMLParseError && e.linePos ? ` at line ${e.linePos[0].line}` : "";
    throw new ConfigError(`config file ${file} is not valid YAML${where}: ${(e as Error).message.split("\n")[0]}`);
  }
  return parseConfig(doc, env, `config file ${file}`);
}
