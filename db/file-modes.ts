/**
 * The database holds every user's attributes and the tokens table, so its directory is 0700 and
 * its files 0600 whatever the process umask. SQLite creates a new database file 0644 & ~umask and
 * gives its -wal and -shm files the database file's mode (os_unix.c findCreateFileMode), so
 * creating the file 0600 before SQLite opens it covers all three.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from "node:fs";

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;
/** Group and other permission bits: none of them should be set on our data. */
const SHARED_BITS = 0o077;

/** Creates `dir` 0700 when missing; mkdir's mode is masked by the umask, hence the chmod. An existing directory is left as it is. */
export function ensurePrivateDir(dir: string): void {
  if (existsSync(dir)) return;
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  chmodSync(dir, PRIVATE_DIR_MODE);
}

/** The database file and the companions SQLite keeps beside it. */
export const databaseFiles = (file: string) => [file, `${file}-wal`, `${file}-shm`, `${file}-journal`];

/**
 * Creates the database file 0600 if missing and tightens it and its companions to 0600 (files of
 * an older version were created 0644). A file owned by another user is left alone: the
 * start-up check reports it.
 */
export function restrictDatabaseFiles(file: string): void {
  if (!existsSync(file)) closeSync(openSync(file, "wx", PRIVATE_FILE_MODE));
  for (const f of databaseFiles(file)) {
    try {
      if ((statSync(f).mode & SHARED_BITS) !== 0) chmodSync(f, PRIVATE_FILE_MODE);
    } catch (e) {
      // Missing, another user's, or on a read-only mount: nothing to tighten here.
      if (!["ENOENT", "EPERM", "EROFS", "EACCES"].includes((e as NodeJS.ErrnoException).code ?? "")) throw e;
    }
  }
}

export interface ExposedPath {
  path: string;
  /** The permission bits, e.g. "755". */
  mode: string;
}

/** Those of `paths` that exist and that group or other users can access. */
export function exposedPaths(paths: string[]): ExposedPath[] {
  const out: ExposedPath[] = [];
  for (const path of paths) {
    if (!existsSync(path)) continue;
    const mode = statSync(path).mode & 0o777;
    if (mode & SHARED_BITS) out.push({ path, mode: mode.toString(8) });
  }
  return out;
}
