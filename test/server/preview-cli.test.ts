// `scimbridge preview` as a process: reads the store, plans, contacts nothing (issue 4).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../db/open.js";
import { createApp } from "../../server/app.js";
import { loadConfig } from "../../server/config/load.js";
import { createLogger } from "../../server/logger.js";
import { runCli } from "../helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "scimbridge-preview-"));
const configFile = join(dir, "c.yaml");
let id = "";

beforeAll(async () => {
  // Port 1 on loopback: nothing listens there, and preview must not try.
  writeFileSync(
    configFile,
    [
      `storage: { file: ${join(dir, "db.sqlite")} }`,
      "logging: { level: warn }",
      "targets:",
      "  - { name: corp, directory: openldap, urls: ['ldap://127.0.0.1:1'], bindDn: 'cn=admin,dc=example,dc=com', bindPassword: secret }",
      "userRules:",
      "  - { name: staff, target: corp, dn: 'uid={userName},ou=people,dc=example,dc=com' }",
      "  - { name: managers, target: corp, dn: 'uid={userName},ou=managers,dc=example,dc=com', filter: 'title eq \"Manager\"' }",
      "",
    ].join("\n"),
  );
  const config = loadConfig(configFile);
  const store = openStore(config.storage.file);
  try {
    const app = createApp({ config, store, logger: createLogger("silent") });
    const created = await app.service.create(
      "User",
      {
        schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
        userName: "JDoe",
        name: { givenName: "John", familyName: "Doe" },
        title: "Engineer",
        password: "Sup3r-secret!",
      },
      { baseUrl: "" },
    );
    id = String(created.resource.id);
  } finally {
    await store.close();
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("scimbridge preview", () => {
  it("prints, per rule, whether the user matches, the DN and the planned ops (by userName, any case)", () => {
    const r = runCli(["preview", "--user", "jdoe", "--config", configFile]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`user JDoe (${id})`);
    expect(r.stdout).toContain("rule staff (target corp): matches; event upsert; state never delivered");
    expect(r.stdout).toContain("  dn: uid=JDoe,ou=people,dc=example,dc=com");
    expect(r.stdout).toContain("  add uid=JDoe,ou=people,dc=example,dc=com");
    expect(r.stdout).toMatch(/^ {4}sn: Doe$/m);
    expect(r.stdout).toMatch(/^ {4}title: Engineer$/m);
    expect(r.stdout).toContain("rule managers (target corp): does not match; event leftFilter");
    expect(r.stdout).not.toContain("Sup3r-secret!");
  });

  it("--json by id: machine-readable ops", () => {
    const r = runCli(["preview", "--user", id, "--json", "--config", configFile]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { user: { id: string }; rules: { rule: string; matches: boolean; dn?: string; ops: { kind: string; dn: string }[] }[] };
    expect(doc.user.id).toBe(id);
    expect(doc.rules).toEqual([
      expect.objectContaining({ rule: "staff", matches: true, dn: "uid=JDoe,ou=people,dc=example,dc=com", ops: [expect.objectContaining({ kind: "add", dn: "uid=JDoe,ou=people,dc=example,dc=com" })] }),
      expect.objectContaining({ rule: "managers", matches: false, ops: [] }),
    ]);
    expect(r.stdout).not.toContain("Sup3r-secret!");
  });

  it("an unknown user exits 1 with a clear message; a missing --user is a usage error", () => {
    const r = runCli(["preview", "--user", "nobody", "--config", configFile]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no user with id or userName "nobody"');
    const u = runCli(["preview", "--config", configFile]);
    expect(u.code).toBe(2);
    expect(u.stderr).toContain("preview needs --user");
  });
});
