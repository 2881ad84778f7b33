/**
 * The npm package as a user installs it: `npm pack` from this checkout, the tarball installed into
 * an empty directory, and `scimbridge serve` started from there (no checkout around it), answering
 * SCIM and serving the admin page's files. Then the systemd unit in deploy/, pointed at that
 * installed bin, passes `systemd-analyze verify` and its offline security review.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, waitForOutput } from "../helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "scimbridge-package-"));
const install = join(dir, "install");
const bin = join(install, "node_modules", ".bin", "scimbridge");
const TOKEN = "package-test-token-0123456789";
const ADMIN = "package-admin-token-0123456789";
let tarball = "";
let child: ChildProcess | undefined;

function need(command: string, pkg: string): void {
  if (spawnSync("sh", ["-c", `command -v ${command}`]).status !== 0) throw new Error(`${command} is not installed: run \`bash scripts/install-system-deps.sh\` (Debian package ${pkg})`);
}

beforeAll(() => {
  // --ignore-scripts would skip `prepare`, the build the tarball needs: pack runs it.
  const packed = execFileSync("npm", ["pack", "--silent", "--pack-destination", dir], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  tarball = join(dir, packed.trim().split("\n").at(-1)!);
  mkdirSync(install);
  writeFileSync(join(install, "package.json"), JSON.stringify({ name: "scimbridge-install-test", private: true }));
  execFileSync("npm", ["install", tarball, "--no-audit", "--no-fund", "--prefer-offline"], { cwd: install, stdio: ["ignore", "pipe", "pipe"], timeout: 540_000 });
}, 600_000);

afterAll(() => {
  child?.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

describe("the npm package", () => {
  it("ships what runs and its documentation, and no tests or sources", () => {
    const files = execFileSync("tar", ["tzf", tarball], { encoding: "utf8" }).trim().split("\n");
    expect(files).toContain("package/dist/server/cli.js");
    expect(files).toContain("package/db/migrations/meta/_journal.json");
    expect(files).toContain("package/db/migrations-pg/meta/_journal.json");
    expect(files).toContain("package/server/admin/page/index.html");
    expect(files).toContain("package/deploy/scimbridge.service");
    expect(files.filter((f) => f.startsWith("package/test/") || f.endsWith(".ts") || f.startsWith("package/bench/"))).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(install, "node_modules", "scimbridge", "package.json"), "utf8")) as { private?: boolean; engines: { node: string } };
    expect(pkg.private).toBeUndefined();
    expect(pkg.engines.node).toMatch(/^>=20/);
  });

  it("installed into an empty directory, `scimbridge --version` and `serve` work there", async () => {
    const version = spawnSync(bin, ["--version"], { cwd: install, encoding: "utf8" });
    expect(version.status).toBe(0);
    expect(version.stdout.trim()).toBe((JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version);
    // Found as ./scimbridge.yaml in the working directory, as the README documents.
    writeFileSync(join(install, "scimbridge.yaml"), [`server: { port: 0 }`, `storage: { file: ./var/scimbridge.db }`, `logging: { level: warn }`, `admin: { tokens: [{ name: ops, token: ${ADMIN} }] }`, ""].join("\n"));
    child = spawn(bin, ["serve"], { cwd: install, env: { ...process.env, SCIM_TOKEN: TOKEN }, stdio: ["ignore", "pipe", "pipe"] });
    const out = await waitForOutput(child, /listening on (\S+)/);
    expect(out).toContain(`config ${join(install, "scimbridge.yaml")} (./scimbridge.yaml)`);
    const url = /listening on (\S+)/.exec(out)![1]!;
    const users = await fetch(`${url}/Users`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(users.status).toBe(200);
    expect(((await users.json()) as { schemas: string[] }).schemas).toEqual(["urn:ietf:params:scim:api:messages:2.0:ListResponse"]);
    // The admin page's static files ship beside dist (server/admin/page).
    const page = await fetch(new URL("/admin/", url));
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<html");
    expect(readdirSync(join(install, "var"))).toContain("scimbridge.db");
    const exited = new Promise<number | null>((r) => child!.once("exit", (code) => r(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  }, 60_000);
});

describe("deploy/scimbridge.service", () => {
  it("passes systemd-analyze verify with ExecStart on the installed bin, and its offline security review", () => {
    need("systemd-analyze", "systemd");
    const unit = readFileSync(join(ROOT, "deploy", "scimbridge.service"), "utf8");
    expect(unit).toMatch(/^ExecStart=\/usr\/local\/bin\/scimbridge serve$/m);
    for (const key of ["DynamicUser=yes", "User=scimbridge", "StateDirectory=scimbridge", "ProtectSystem=strict", "NoNewPrivileges=yes", "ProtectHome=yes", "PrivateTmp=yes", "CapabilityBoundingSet="]) {
      expect(unit).toMatch(new RegExp(`^${key}$`, "m"));
    }
    const file = join(dir, "scimbridge.service");
    writeFileSync(file, unit.replace(/^ExecStart=\/usr\/local\/bin\/scimbridge/m, `ExecStart=${bin}`));
    const verify = spawnSync("systemd-analyze", ["verify", "--man=no", file], { encoding: "utf8" });
    expect(verify.stderr).toBe("");
    expect(verify.status).toBe(0);
    const security = spawnSync("systemd-analyze", ["security", "--offline=yes", file], { encoding: "utf8" });
    const exposure = /Overall exposure level for scimbridge\.service: ([\d.]+)/.exec(security.stdout + security.stderr);
    expect(exposure, security.stdout + security.stderr).not.toBeNull();
    // systemd rates 0-10; below 2 is "OK" in its own words.
    expect(Number(exposure![1])).toBeLessThan(2);
  });

  it("the unit's own mistake is caught: a misspelt directive fails verify", () => {
    need("systemd-analyze", "systemd");
    const file = join(dir, "broken.service");
    writeFileSync(file, readFileSync(join(ROOT, "deploy", "scimbridge.service"), "utf8").replace(/^ExecStart=.*$/m, `ExecStart=${bin} serve`).replace("ProtectSystem=strict", "ProtectSystem=stricter"));
    const verify = spawnSync("systemd-analyze", ["verify", "--man=no", file], { encoding: "utf8" });
    // verify still exits 0 on a value it ignores; the warning on stderr is what the first test rules out.
    expect(verify.stderr).toMatch(/broken\.service:\d+: Failed to parse protect system value, ignoring: stricter/);
  });
});
