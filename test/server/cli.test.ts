import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { runCli, spawnCli, waitForOutput } from "../helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "scimbridge-cli-"));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

const configFile = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const config = configFile("c.yaml", `server: { port: 0 }\nstorage: { file: ${join(dir, "data", "db.sqlite")} }\nlogging: { level: warn }\n`);

describe("scimbridge CLI", () => {
  it("token create prints a token once; list shows names, never tokens; revoke removes", () => {
    const created = runCli(["token", "create", "okta", "--config", config]);
    expect(created.code).toBe(0);
    const token = created.stdout.trim();
    expect(token).toMatch(/^scb_[\w-]{40,}$/);
    const list = runCli(["token", "list", "--json", "--config", config]);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ name: "okta", lastUsed: null })]);
    expect(list.stdout).not.toContain(token);
    expect(runCli(["token", "create", "okta", "--config", config]).code).toBe(2);
    expect(runCli(["token", "revoke", "okta", "--config", config]).stdout).toContain("revoked");
    expect(runCli(["token", "revoke", "okta", "--config", config]).code).toBe(1);
  });

  it("config check validates and names the key of an error (exit 2)", () => {
    const ok = runCli(["config", "check", "--json", "--config", config]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).server.port).toBe(0);
    const bad = runCli(["config", "check", "--config", configFile("bad.yaml", "server: { port: -3 }\n")]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("server.port");
    const viaEnv = runCli(["config", "check"], { SCIMBRIDGE_CONFIG: configFile("bad2.yaml", "logging: { level: loud }\n") });
    expect(viaEnv.stderr).toContain("logging.level");
  });

  it("config check warns about rules of one target that can write under the same base, and says what reconcile does", () => {
    const target = "targets: [{ name: t, directory: openldap, urls: ['ldap://127.0.0.1:1'], bindDn: 'cn=x', bindPassword: x }]";
    const rules = [
      "userRules:",
      "  - { name: people, target: t, dn: 'uid={userName},ou=people,dc=example,dc=com' }",
      "  - { name: staff, target: t, dn: 'cn={displayName},ou=people,dc=example,dc=com' }",
      // a subtree base contains the one-level bases beneath it
      "  - { name: deep, target: t, dn: 'uid={userName},ou={title},dc=example,dc=com' }",
      "groupRules:",
      "  - { name: groups, target: t, dn: 'cn={displayName},ou=groups,dc=example,dc=com' }",
    ];
    const r = runCli(["config", "check", "--json", "--config", configFile("overlap.yaml", [`storage: { file: ${join(dir, "o.db")} }`, target, ...rules, ""].join("\n"))]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).userRules).toHaveLength(3);
    const warnings = r.stderr.trim().split("\n");
    expect(warnings).toEqual([
      expect.stringMatching(/^warning: rules people and staff \(target t\) can both write under ou=people,dc=example,dc=com\. reconcile deletes only each rule's own leftovers/),
      expect.stringMatching(/^warning: rules people and deep \(target t\) can both write under ou=people,dc=example,dc=com/),
      expect.stringMatching(/^warning: rules staff and deep /),
      expect.stringMatching(/^warning: rules deep and groups \(target t\) can both write under ou=groups,dc=example,dc=com/),
    ]);
    expect(warnings[0]).toContain("staff's entries are reported as unmanaged to people and people's to staff, and are never deleted by the other rule, not even with --delete-unmanaged");
    expect(runCli(["config", "check", "--config", config]).stderr).toBe("");
  });

  it("unknown commands print usage and exit 2", () => {
    const r = runCli(["frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("usage: scimbridge");
  });

  it("serve prints a first token once and answers with it; SIGTERM stops it cleanly", async () => {
    const cfg = configFile("serve.yaml", `server: { port: 0 }\nstorage: { file: ${join(dir, "serve", "db.sqlite")} }\nlogging: { level: warn }\n`);
    const child = spawnCli(["serve", "--config", cfg]);
    children.push(child);
    const out = await waitForOutput(child, /Try: curl .*\/Users\n/);
    const token = /(scb_[\w-]+)/.exec(out)![1]!;
    const url = /listening on (\S+)/.exec(out)![1]!;
    const res = await fetch(`${url}/Users`, { headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { schemas: string[] }).schemas).toEqual(["urn:ietf:params:scim:api:messages:2.0:ListResponse"]);
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);

    // A second start finds the token already there and prints none.
    const again = spawnCli(["serve", "--config", cfg]);
    children.push(again);
    const out2 = await waitForOutput(again, /listening on/);
    expect(out2).not.toMatch(/scb_/);
    again.kill("SIGTERM");
  });

  it("serve takes SCIM_TOKEN instead of generating one", async () => {
    const cfg = configFile("env.yaml", `server: { port: 0 }\nstorage: { file: ${join(dir, "env", "db.sqlite")} }\nlogging: { level: warn }\n`);
    const child = spawnCli(["serve", "--config", cfg], { SCIM_TOKEN: "my-own-token-0123456789" });
    children.push(child);
    const out = await waitForOutput(child, /SCIM_TOKEN accepted/);
    const url = /listening on (\S+)/.exec(out)![1]!;
    expect((await fetch(`${url}/Users`, { headers: { Authorization: "Bearer my-own-token-0123456789" } })).status).toBe(200);
    child.kill("SIGTERM");
  });
});
