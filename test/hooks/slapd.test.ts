/**
 * The slapd launcher: start time, clean stop, persistent restarts, LDAPS with certificate
 * verification, the PingDirectory test schema, and that slapd dies with its Node parent.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { Client } from "ldapts";
import { findSlapd, startSlapd, type SlapdHandle } from "../../hooks/ldap/slapd.js";
import { classifyLdapError } from "../../hooks/ldap/errors.js";
import { adminClient, eventually, processAlive, searchEntry } from "../harness/slapd.js";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const tempDirs: string[] = [];
const handles: SlapdHandle[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "scimbridge-slapd-test-"));
  tempDirs.push(d);
  return d;
}

afterAll(async () => {
  await Promise.all(handles.map((h) => h.stop()));
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

describe("startSlapd", () => {
  it("finds the binary", () => {
    expect(findSlapd()).toMatch(/slapd$/);
  });

  it("explains how to install slapd when the binary is missing", async () => {
    await expect(startSlapd({ slapdPath: "/nonexistent/slapd" })).rejects.toThrow(/apt-get install slapd ldap-utils/);
  });

  it("starts in under a second, answers binds, and stop() leaves no process or temp dir", async () => {
    const t0 = performance.now();
    const h = await startSlapd();
    const startMs = performance.now() - t0;
    handles.push(h);
    console.log(`slapd start: ${startMs.toFixed(0)} ms`);
    expect(startMs).toBeLessThan(1000);
    expect(h.url).toMatch(/^ldap:\/\/127\.0\.0\.1:\d+$/);
    expect(processAlive(h.pid)).toBe(true);

    const admin = await adminClient(h);
    const base = await searchEntry(admin, `ou=people,${h.suffix}`);
    expect(base?.["ou"]).toEqual(["people"]);
    // ppolicy default policy present (disable via pwdAccountLockedTime depends on it)
    expect((await searchEntry(admin, `cn=default,ou=policies,${h.suffix}`))?.["pwdlockout"]).toEqual(["TRUE"]);
    await admin.unbind();

    const t1 = performance.now();
    await h.stop();
    console.log(`slapd stop: ${(performance.now() - t1).toFixed(0)} ms`);
    expect(processAlive(h.pid)).toBe(false);
    expect(existsSync(h.dir)).toBe(false);
    await h.stop(); // idempotent
  });

  it("keeps data across restarts in a caller-given dir, and requires a root password for it", async () => {
    const dir = tempDir();
    await expect(startSlapd({ dir })).rejects.toThrow(/rootPassword is required/);
    const first = await startSlapd({ dir, rootPassword: "pw-1" });
    handles.push(first);
    const admin = await adminClient(first);
    await admin.add(`uid=keep,ou=people,${first.suffix}`, { objectClass: "inetOrgPerson", uid: "keep", cn: "Keep", sn: "Me" });
    await admin.unbind();
    await first.stop();
    expect(existsSync(join(dir, "slapd.d", "cn=config.ldif"))).toBe(true);
    // the root password is stored hashed, never in clear
    expect(readFileSync(join(dir, "slapd.d", "cn=config", "olcDatabase={1}mdb.ldif"), "utf8")).not.toContain("pw-1");

    const second = await startSlapd({ dir, rootPassword: "pw-1", port: first.port });
    handles.push(second);
    expect(second.url).toBe(first.url);
    const again = await adminClient(second);
    expect((await searchEntry(again, `uid=keep,ou=people,${second.suffix}`))?.["cn"]).toEqual(["Keep"]);
    await again.unbind();
    await second.stop();

    await expect(startSlapd({ dir, rootPassword: "wrong" })).rejects.toThrow(/did not become ready|Invalid credentials|0x31/i);
  });

  it("fails clearly when a requested port is taken, and leaves nothing behind", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
    const port = (blocker.address() as AddressInfo).port;
    try {
      await expect(startSlapd({ port })).rejects.toThrow(/port in use/);
    } finally {
      blocker.close();
    }
  });

  it("rejects bad seed LDIF and leaves a caller-given dir unconfigured", async () => {
    const dir = tempDir();
    await expect(startSlapd({ dir, rootPassword: "pw", extraLdif: "dn: uid=x,ou=nowhere,dc=other\nuid: x\n" })).rejects.toThrow(/slapadd/);
    expect(existsSync(join(dir, "slapd.d"))).toBe(false);
  });

  it("seeds extra LDIF offline", async () => {
    const h = await startSlapd({
      extraLdif: "dn: uid=seeded,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: seeded\ncn: Seeded\nsn: S\n",
    });
    handles.push(h);
    const admin = await adminClient(h);
    expect((await searchEntry(admin, `uid=seeded,ou=people,${h.suffix}`))?.["sn"]).toEqual(["S"]);
    await admin.unbind();
    await h.stop();
  });

  it("loads the PingDirectory test schema", async () => {
    const h = await startSlapd({ schemas: ["pingdirectory"] });
    handles.push(h);
    const admin = await adminClient(h);
    const dn = `uid=pd,ou=people,${h.suffix}`;
    await admin.add(dn, {
      objectClass: ["inetOrgPerson", "scimbridgeTestPingAccount"],
      uid: "pd",
      cn: "PD",
      sn: "User",
      "ds-pwp-account-disabled": "TRUE",
    });
    expect((await searchEntry(admin, dn))?.["ds-pwp-account-disabled"]).toEqual(["TRUE"]);
    await admin.unbind();
    await h.stop();
  });
});

describe("LDAPS", () => {
  it("verifies the server certificate against its CA, and refuses a wrong CA", async () => {
    const t0 = performance.now();
    const h = await startSlapd({ ldapsPort: 0 });
    console.log(`slapd start with TLS: ${(performance.now() - t0).toFixed(0)} ms`);
    handles.push(h);
    expect(h.ldapsUrl).toMatch(/^ldaps:\/\/127\.0\.0\.1:\d+$/);
    const ca = readFileSync(h.caFile ?? "");

    const good = new Client({ url: h.ldapsUrl ?? "", tlsOptions: { ca: [ca] }, connectTimeout: 2000, timeout: 2000 });
    await good.bind(h.rootDn, h.rootPassword);
    await good.unbind();

    // Another instance's self-signed certificate is a valid PEM but not this server's CA.
    const other = await startSlapd({ ldapsPort: 0 });
    handles.push(other);
    const wrongCa = readFileSync(other.caFile ?? "");
    await other.stop();
    for (const tlsOptions of [{ ca: [wrongCa] }, { rejectUnauthorized: true }]) {
      const bad = new Client({ url: h.ldapsUrl ?? "", tlsOptions, connectTimeout: 2000, timeout: 2000 });
      const err = await bad.bind(h.rootDn, h.rootPassword).then(
        () => undefined,
        (e: unknown) => e,
      );
      await bad.unbind().catch(() => undefined);
      expect(err).toBeInstanceOf(Error);
      // a certificate problem does not heal by retrying
      expect(classifyLdapError(err).transient).toBe(false);
    }
    await h.stop();
  });

  it("reuses a persistent TLS instance and refuses LDAPS on one created without it", async () => {
    const dir = tempDir();
    const tls = await startSlapd({ dir, rootPassword: "pw", ldapsPort: 0 });
    handles.push(tls);
    await tls.stop();
    const again = await startSlapd({ dir, rootPassword: "pw", ldapsPort: 0 });
    handles.push(again);
    const c = new Client({ url: again.ldapsUrl ?? "", tlsOptions: { ca: [readFileSync(again.caFile ?? "")] } });
    await c.bind(again.rootDn, "pw");
    await c.unbind();
    await again.stop();

    const plainDir = tempDir();
    const plain = await startSlapd({ dir: plainDir, rootPassword: "pw" });
    handles.push(plain);
    await plain.stop();
    await expect(startSlapd({ dir: plainDir, rootPassword: "pw", ldapsPort: 0 })).rejects.toThrow(/without LDAPS/);
  });
});

describe("slapd does not outlive Node", () => {
  // A child Node process starts slapd, reports the PID, then ends by exit() or by a signal.
  for (const ending of ["exit", "SIGTERM"] as const) {
    it(`kills slapd when the parent ends by ${ending}`, async () => {
      const dir = tempDir();
      const script = join(dir, "parent.mts");
      const slapdModule = new URL("../../hooks/ldap/slapd.ts", import.meta.url).href;
      writeFileSync(
        script,
        `import { startSlapd } from ${JSON.stringify(slapdModule)};
const h = await startSlapd({ dir: ${JSON.stringify(join(dir, "inst"))}, rootPassword: "pw" });
console.log("PID " + h.pid);
const keepAlive = setInterval(() => {}, 1000);
process.stdin.once("data", () => { clearInterval(keepAlive); process.exit(0); });
`,
      );
      const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: repoRoot, stdio: ["pipe", "pipe", "pipe"] });
      let out = "";
      child.stdout.on("data", (b: Buffer) => (out += b.toString()));
      child.stderr.on("data", (b: Buffer) => (out += b.toString()));
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      let pid = 0;
      try {
        expect(await eventually(() => /PID \d+/.test(out), 15_000)).toBe(true);
        pid = Number(/PID (\d+)/.exec(out)?.[1]);
        expect(processAlive(pid)).toBe(true);
        if (ending === "SIGTERM") child.kill("SIGTERM");
        else child.stdin.write("exit\n");
        await exited;
        expect(await eventually(() => !processAlive(pid), 5000)).toBe(true);
      } finally {
        child.kill("SIGKILL");
        if (pid && processAlive(pid)) process.kill(pid, "SIGKILL"); // the slapd this test started
      }
    });
  }
});
