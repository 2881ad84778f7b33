/**
 * Loads the YAML config: path from --config, else SCIMBRIDGE_CONFIG, else ./scimbridge.yaml when it
 * exists; `${ENV}` interpolation for secrets, one zod validation. No file means the embedded
 * default (every key defaulted). Every command resolves it the same way, so `serve` and `token
 * create` run in one directory use one database.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
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

/** The file looked for in the working directory when neither --config nor SCIMBRIDGE_CONFIG names one. */
export const DEFAULT_CONFIG_FILE = "scimbridge.yaml";

export interface ConfigSource {
  /** Absent: no file, the built-in defaults (the embedded directory). */
  file?: string | undefined;
  /** Where the file came from, for messages: "--config", "SCIMBRIDGE_CONFIG", "./scimbridge.yaml" or "built-in defaults". */
  from: string;
}

/** --config wins over SCIMBRIDGE_CONFIG, which wins over ./scimbridge.yaml when it exists; none means defaults. */
export function configSource(flag: string | undefined, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): ConfigSource {
  if (flag) return { file: flag, from: "--config" };
  if (env.SCIMBRIDGE_CONFIG) return { file: env.SCIMBRIDGE_CONFIG, from: "SCIMBRIDGE_CONFIG" };
  const local = resolve(cwd, DEFAULT_CONFIG_FILE);
  if (existsSync(local)) return { file: local, from: `./${DEFAULT_CONFIG_FILE}` };
  return { from: "built-in defaults" };
}

/** The config path alone (see configSource). */
export function configPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string | undefined {
  return configSource(flag, env, cwd).file;
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
