/**
 * The server's secret key (provisioning.secretKey, or `secret.key` generated beside the database):
 * it seals SCIM passwords until delivered (hooks/delivery/secrets.ts) and keys the hashes of stored bearer
 * tokens (server/auth/tokens.ts).
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { ensurePrivateDir, PRIVATE_FILE_MODE } from "../db/file-modes.js";
import { parseKey } from "../hooks/delivery/secrets.js";
import { ConfigError } from "./config/load.js";
import type { Config } from "./config/schema.js";

/** Reads or creates a file holding a secret, readable by this user only (0600 whatever the umask). */
export function secretFile(path: string, make: () => string): string {
  if (existsSync(path)) return readFileSync(path, "utf8").trim();
  ensurePrivateDir(dirname(path));
  const value = make();
  writeFileSync(path, value, { mode: PRIVATE_FILE_MODE });
  chmodSync(path, PRIVATE_FILE_MODE);
  return value;
}

/** Where the generated key lives when provisioning.secretKey is not set. */
export const secretKeyFile = (config: Config) => join(dirname(resolve(config.storage.file)), "secret.key");

export function secretKeyOf(config: Config): Buffer {
  if (config.provisioning.secretKey) {
    try {
      return parseKey(config.provisioning.secretKey);
    } catch (e) {
      throw new ConfigError("config is invalid", [`provisioning.secretKey: ${(e as Error).message}`]);
    }
  }
  // An in-memory database keeps nothing, so neither does its key.
  if (config.storage.file === ":memory:") return randomBytes(32);
  // No key configured: one generated beside the database. Set provisioning.secretKey from the
  // environment in production so the key never sits next to the data it protects.
  return parseKey(secretFile(secretKeyFile(config), () => randomBytes(32).toString("base64")));
}
