/**
 * What `npm start` runs on a host without slapd: scripts/install-embedded-deps.sh as a non-root
 * user prints the install line and lets the start go on, and `scimbridge serve` on the built-in
 * defaults serves SCIM without the embedded directory, saying so. slapd is hidden by mounting
 * empty directories over /usr/sbin and /usr/local/sbin in a mount namespace of the test's own
 * (unshare(1)), so the host is untouched. Also the installers' guard against service starts
 * (scripts/no-service-starts.sh, Debian's policy-rc.d), in such a namespace too.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT, waitForOutput } from "../helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "scimbridge-npm-start-"));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

/** `sh -c script` in a private mount namespace where /usr/sbin and /usr/local/sbin are empty. */
const HIDE_SBIN = "mount -t tmpfs none /usr/sbin && mount -t tmpfs none /usr/local/sbin";
const inNamespace = (script: string) => ["unshare", ["--mount", "--propagation", "private", "sh", "-c", `${HIDE_SBIN} && ${script}`]] as const;

function needUnshare(): void {
  const r = spawnSync("unshare", ["--mount", "--propagation", "private", "true"]);
  if (r.status !== 0) throw new Error(`these tests need root and unshare(1) (util-linux) to hide slapd in a mount namespace: ${r.error?.message ?? r.stderr.toString()}`);
}

describe("npm start without slapd", () => {
  it("the installer, as a user who cannot install, prints the apt-get line and exits 0", () => {
    needUnshare();
    const [cmd, args] = inNamespace(`exec setpriv --reuid 65534 --regid 65534 --clear-groups bash ${join(ROOT, "scripts", "install-embedded-deps.sh")}`);
    const r = spawnSync(cmd, args, { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("install them with: sudo apt-get install -y slapd ldap-utils");
    expect(r.stderr).toContain("starting the SCIM service without the embedded directory");
  });

  it("serve on the built-in defaults serves SCIM without the embedded directory and says so", async () => {
    needUnshare();
    const tsx = pathToFileURL(join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;
    const [cmd, args] = inNamespace(`exec "${process.execPath}" --import ${tsx} ${join(ROOT, "server", "cli.ts")} serve`);
    // An empty working directory: no ./scimbridge.yaml, no SCIMBRIDGE_CONFIG.
    const child = spawn(cmd, args, { cwd: dir, env: { ...process.env, SCIMBRIDGE_CONFIG: "", SCIM_TOKEN: "npm-start-token-0123456789" }, stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    const out = await waitForOutput(child, /listening on (\S+)/);
    expect(out).toContain("slapd is not installed: serving SCIM without the embedded directory; install it with: apt-get install -y slapd ldap-utils");
    expect(out).not.toContain("Embedded OpenLDAP");
    const url = /listening on (\S+)/.exec(out)![1]!;
    const res = await fetch(`${url}/Users`, { headers: { Authorization: "Bearer npm-start-token-0123456789" } });
    expect(res.status).toBe(200);
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });
});

describe("scripts/no-service-starts.sh", () => {
  const lib = join(ROOT, "scripts", "no-service-starts.sh");
  it("forbids service starts while installing (policy-rc.d exits 101) and removes only its own policy", () => {
    needUnshare();
    const script = [
      `. ${lib}`,
      "forbid_service_starts",
      "/usr/sbin/policy-rc.d slapd start; echo during=$?",
      "allow_service_starts",
      "test -e /usr/sbin/policy-rc.d && echo after=present || echo after=absent",
      // A policy the host already had is left as it is.
      "printf '#!/bin/sh\\nexit 0\\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d",
      "forbid_service_starts; allow_service_starts",
      "/usr/sbin/policy-rc.d slapd start; echo kept=$?",
    ].join("\n");
    const [cmd, args] = inNamespace(`bash -c '${script.replaceAll("'", "'\\''")}'`);
    const r = spawnSync(cmd, args, { encoding: "utf8" });
    expect(r.stdout.trim().split("\n")).toEqual(["during=101", "after=absent", "kept=0"]);
  });
});
