/**
 * What every command shares: the global options and the one way to find the configuration
 * (--config, SCIMBRIDGE_CONFIG, ./scimbridge.yaml, else the built-in defaults), so `serve` and
 * `token create` run from one directory always use one database.
 */
import { existsSync } from "node:fs";
import { databaseName } from "../store.js";
import { resolve } from "node:path";
import type { Command } from "commander";
import { configSource, loadConfig, type ConfigSource } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { CommandError, say } from "./io.js";

export interface GlobalOptions {
  config?: string | undefined;
  json: boolean;
}

/** The options of the program and of this command together (`--config` may come before or after the command). */
export function globalsOf(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals<{ config?: string; json?: boolean }>();
  return { config: o.config, json: o.json === true };
}

export interface Loaded {
  config: Config;
  source: ConfigSource;
}

export function loadFor(g: GlobalOptions): Loaded {
  const source = configSource(g.config);
  return { config: loadConfig(source.file), source };
}

/** `config /etc/scimbridge/scimbridge.yaml (--config)` or `built-in defaults`, for messages. */
export function describeSource(s: ConfigSource): string {
  return s.file ? `config ${resolve(s.file)} (${s.from})` : "built-in defaults (no --config, SCIMBRIDGE_CONFIG or ./scimbridge.yaml)";
}

/** Fails (exit 1) when the database file does not exist: reading commands never create one. A PostgreSQL database is the operator's to create. */
export function requireDatabase(l: Loaded, nothingTo: string): void {
  if (l.config.storage.url === undefined && !existsSync(l.config.storage.file)) {
    throw new CommandError(`no database at ${resolve(l.config.storage.file)} (${describeSource(l.source)}); ${nothingTo}`);
  }
}

/** The stderr line of a command that wrote: which database, from which configuration. */
export function sayDatabase(l: Loaded, created = false): void {
  if (l.config.storage.url !== undefined) return say(`database ${databaseName(l.config)}, from ${describeSource(l.source)}`);
  say(`${created ? "created the database" : "database"} ${resolve(l.config.storage.file)}, from ${describeSource(l.source)}`);
}
