/**
 * The start-up check of the data's permissions: the database, its companions, the serve lock and
 * the generated secret key hold user data and secrets, so group or other access is reported.
 * Files this server creates are 0600 in a 0700 directory (db/file-modes.ts); this catches what an
 * older version, a restore or a hand-made directory left open.
 */
import { dirname, resolve } from "node:path";
import { databaseFiles, exposedPaths, type ExposedPath } from "../db/file-modes.js";
import type { Config } from "./config/schema.js";
import type { Logger } from "./logger.js";
import { secretKeyFile } from "./secret-key.js";
import { serveLockFile } from "./serve-lock.js";

export function exposedDataFiles(config: Config): ExposedPath[] {
  const file = resolve(config.storage.file);
  return exposedPaths([dirname(file), ...databaseFiles(file), serveLockFile(file), secretKeyFile(config)]);
}

export function warnAboutExposedData(config: Config, logger: Logger): void {
  if (config.storage.file === ":memory:") return;
  for (const { path, mode } of exposedDataFiles(config)) {
    logger.warn({ path, mode }, "data readable by other users (it holds user data or secrets): chmod go-rwx it");
  }
}
