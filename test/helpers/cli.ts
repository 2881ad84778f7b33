/** Runs the CLI as a separate process (through tsx, so tests need no build). */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "..", "..");
const CLI = join(ROOT, "server", "cli.ts");
const NODE_ARGS = ["--import", "tsx", CLI];

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [...NODE_ARGS, ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [...NODE_ARGS, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
}

/** Resolves with stdout so far once `pattern` appears (bounded wait). */
export function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; output so far:\n${seen}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolvePromise(seen);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (!pattern.test(seen)) reject(new Error(`process exited (${code}) before ${pattern}:\n${seen}`));
    });
  });
}

/**
 * Writes a YAML config for CLI tests: the given SQLite file and one openldap target on a test
 * slapd, with the given user rules (and any extra top-level lines).
 */
export function writeSlapdConfig(
  file: string,
  o: { dbFile: string; slapd: { url: string; rootDn: string; rootPassword: string }; rules: object[]; extra?: string[]; logLevel?: string },
): void {
  writeFileSync(
    file,
    [
      `storage: { file: ${o.dbFile} }`,
      `logging: { level: ${o.logLevel ?? "warn"} }`,
      ...(o.extra ?? []),
      "targets:",
      `  - { name: slapd, directory: openldap, urls: ['${o.slapd.url}'], bindDn: '${o.slapd.rootDn}', bindPassword: '${o.slapd.rootPassword}' }`,
      "userRules:",
      ...o.rules.map((r) => `  - ${JSON.stringify(r)}`),
      "",
    ].join("\n"),
  );
}
