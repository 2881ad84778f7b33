/**
 * The database, its -wal and -shm files, the serve lock and secret.key are 0600 in a 0700 data
 * directory whatever the umask, and serve warns at start-up about data others can read. Checked
 * with stat and, when the tests run as root, by reading as the unprivileged `nobody`.
 */
import { spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { openStore } from "../../db/open.js";
import { parseConfig } from "../../server/config/load.js";
import { secretKeyOf } from "../../server/secret-key.js";
import { acquireServeLock, serveLockFile } from "../../server/serve-lock.js";
import { spawnCli, waitForOutput } from "../helpers/cli.js";

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
const asRoot = process.getuid?.() === 0;

/** Whether the unprivileged user `nobody` can read `file` (only checkable as root). */
function nobodyCanRead(file: string): boolean {
  const r = spawnSync("setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "cat", file], { encoding: "utf8" });
  return r.status === 0;
}

let base: string;
let umask: number;
const children: ChildProcess[] = [];
beforeEach(() => {
  umask = process.umask(0o022);
  base = mkdtempSync(join(tmpdir(), "scimbridge-modes-"));
  chmodSync(base, 0o755); // like /var/lib: others may traverse it
});
afterEach(() => {
  process.umask(umask);
  rmSync(base, { recursive: true, force: true });
});
afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
});

describe("data file modes", () => {
  it("under umask 022 the data directory is 0700 and the database, -wal, -shm, serve lock and secret.key 0600", async () => {
    const file = join(base, "data", "scimbridge.db");
    const store = openStore(file);
    store.sqlite.prepare("INSERT INTO tokens (name, hash, hint, created) VALUES ('x', 'y', 'z', 'now')").run();
    const lock = acquireServeLock(file);
    secretKeyOf(parseConfig({ storage: { file } }, {}));
    try {
      expect(mode(join(base, "data"))).toBe("700");
      for (const f of [file, `${file}-wal`, `${file}-shm`, serveLockFile(file), join(base, "data", "secret.key")]) expect([f, mode(f)]).toEqual([f, "600"]);
      if (asRoot) {
        // Even with the directory opened up, the files themselves refuse an unprivileged reader.
        chmodSync(join(base, "data"), 0o755);
        expect(nobodyCanRead(file)).toBe(false);
        expect(nobodyCanRead(`${file}-wal`)).toBe(false);
      }
    } finally {
      lock.release();
      await store.close();
    }
  });

  it("files an older version left 0644 are tightened to 0600 when opened", async () => {
    const dir = join(base, "data");
    mkdirSync(dir, { mode: 0o755 });
    const file = join(dir, "scimbridge.db");
    await openStore(file).close();
    for (const f of [file]) chmodSync(f, 0o644);
    writeFileSync(`${file}-wal`, "");
    chmodSync(`${file}-wal`, 0o644);
    if (asRoot) expect(nobodyCanRead(file)).toBe(true); // what an older version allowed
    await openStore(file).close();
    expect(mode(file)).toBe("600");
    if (asRoot) expect(nobodyCanRead(file)).toBe(false);
  });

  it("serve warns at start-up about a data directory others can read", async () => {
    const dir = join(base, "data");
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const config = join(base, "c.yaml");
    writeFileSync(config, `server: { port: 0 }\nstorage: { file: ${join(dir, "scimbridge.db")} }\nlogging: { level: warn }\n`);
    const child = spawnCli(["serve", "--config", config], { SCIM_TOKEN: "a-token-of-sixteen-chars" });
    children.push(child);
    const out = await waitForOutput(child, /scimbridge listening/);
    child.kill("SIGTERM");
    const warning = out.split("\n").find((l) => l.includes("data readable by other users"));
    expect(warning).toBeDefined();
    expect(JSON.parse(warning!)).toMatchObject({ level: 40, path: dir, mode: "755" });
    expect(out).not.toMatch(/"path":"[^"]*scimbridge\.db/); // the files themselves are 0600
  });
});
