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
