import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, spawnCli, waitForOutput } from "../helpers/cli.js";

const TOKEN = "conformance-cli-token-0123456789";
const dir = mkdtempSync(join(tmpdir(), "scimbridge-conformance-cli-"));
let child: ChildProcess;
let url: string;

// The server runs as its own process: runCli blocks this one while the command runs.
beforeAll(async () => {
  const config = join(dir, "c.yaml");
  writeFileSync(config, `server: { port: 0 }\nstorage: { file: ${join(dir, "db.sqlite")} }\nembeddedDirectory: { enabled: false }\nlogging: { level: silent }\n`);
  child = spawnCli(["serve", "--config", config], { SCIM_TOKEN: TOKEN });
  url = /listening on (\S+)/.exec(await waitForOutput(child, /SCIM_TOKEN accepted/))![1]!;
});
afterAll(() => {
  child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

const lastLine = (stdout: string) => stdout.trimEnd().split("\n").at(-1);

describe("scimbridge conformance", () => {
  it("passes every suite against scimbridge (exit 0)", () => {
    const r = runCli(["conformance", "--base", url, "--token", TOKEN]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(lastLine(r.stdout)).toMatch(/^\d+ passed, 0 failed$/);
    for (const client of ["rfc", "pingfederate", "pingone", "entra", "okta"]) expect(r.stdout).toContain(`ok   ${client} `);
  });

  it("reports failures with the request and response, and exits 1", () => {
    const r = runCli(["conformance", "--base", url.replace(/\/scim\/v2$/, "/nope"), "--token", TOKEN, "--client", "pingone"]);
    expect(r.code).toBe(1);
    expect(lastLine(r.stdout)).toMatch(/^0 passed, [1-9]\d* failed$/);
    expect(r.stdout).toMatch(/^FAIL pingone .*\n {5}request: {2}GET \/Users\?filter=username%20Eq%20/m);
    expect(r.stdout).toMatch(/^ {5}response: 404 /m);
  });

  it("usage errors exit 2", () => {
    expect(runCli(["conformance", "--token", TOKEN]).code).toBe(2);
    expect(runCli(["conformance", "--base", url]).code).toBe(2);
    expect(runCli(["conformance", "--base", url, "--token", TOKEN, "--client", "salesforce"]).code).toBe(2);
  });
});
