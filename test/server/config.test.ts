import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, parseConfig } from "../../server/config/load.js";

const dir = mkdtempSync(join(tmpdir(), "scimbridge-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

const errorOf = (fn: () => unknown): ConfigError => {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
};

describe("config", () => {
  it("no file gives the embedded default", () => {
    const c = loadConfig(undefined, {});
    expect(c.server).toMatchObject({ host: "127.0.0.1", port: 8080, basePath: "/scim/v2" });
    expect(c.storage.file).toBe("./data/scimbridge.db");
    expect(c.scim).toMatchObject({ maxPageSize: 1000, defaultPageSize: 100 });
  });

  it("storage.url selects PostgreSQL: the password from ${ENV}, a pool size, and a secret key required", () => {
    const c = loadConfig(
      file("pg.yaml", "storage:\n  url: postgres://scim:${PG_PASS}@db.internal:5432/scim\n  pool:\n    max: 20\nprovisioning:\n  secretKey: ${KEY}\n"),
      { PG_PASS: "pg-secret", KEY: "a".repeat(44) },
    );
    expect(c.storage).toMatchObject({ url: "postgres://scim:pg-secret@db.internal:5432/scim", pool: { max: 20 } });
    const keyless = errorOf(() => loadConfig(file("pg-keyless.yaml", "storage:\n  url: postgres://scim@db/scim\n"), {}));
    expect(keyless.issues.some((i) => i.startsWith("provisioning.secretKey: is required with storage.url"))).toBe(true);
    const embedded = errorOf(() => loadConfig(file("pg-embedded.yaml", "storage:\n  url: postgres://scim@db/scim\nprovisioning:\n  secretKey: k\nembeddedDirectory:\n  enabled: true\n"), {}));
    expect(embedded.issues.some((i) => i.startsWith("embeddedDirectory.enabled: cannot be used with storage.url"))).toBe(true);
    const notPg = errorOf(() => loadConfig(file("pg-bad.yaml", "storage:\n  url: mysql://db/scim\n"), {}));
    expect(notPg.issues.some((i) => i.startsWith("storage.url:"))).toBe(true);
  });

  it("interpolates ${ENV} and ${ENV:-default} in values", () => {
    const c = loadConfig(file("env.yaml", "auth:\n  basic:\n    - username: pf\n      password: ${PF_PASS}\nserver:\n  host: ${HOST:-0.0.0.0}\n"), { PF_PASS: "long enough secret" });
    expect(c.auth.basic[0]!.password).toBe("long enough secret");
    expect(c.server.host).toBe("0.0.0.0");
  });

  it("a missing variable names the key", () => {
    const e = errorOf(() => loadConfig(file("missing.yaml", "auth:\n  basic:\n    - username: pf\n      password: ${NOPE}\n"), {}));
    expect(e.message).toContain("auth.basic.0.password: environment variable NOPE is not set");
  });

  it.each([
    ["server:\n  port: eighty\n", "server.port"],
    ["server:\n  prot: 80\n", "server"],
    ["scim:\n  maxPageSize: 10\n  defaultPageSize: 20\n", "scim.defaultPageSize"],
    ["scim:\n  extensions:\n    - schema: urn:acme:User\n      name: A\n      attributes: [{name: a, type: string}]\n", "scim.extensions.0.schema"],
    ["scim:\n  extensions:\n    - schema: urn:ietf:params:scim:schemas:extension:a:2.0:User\n      name: A\n      attributes: [{name: a, type: strng}]\n", "scim.extensions.0.attributes.0.type"],
  ])("an invalid value names its key path: %j", (text, key) => {
    const e = errorOf(() => loadConfig(file(`bad-${key}.yaml`, text), {}));
    expect(e.issues.some((i) => i.startsWith(`${key}:`))).toBe(true);
  });

  it("invalid YAML names the line", () => {
    const e = errorOf(() => loadConfig(file("yaml.yaml", "server:\n  port: [1,\n"), {}));
    expect(e.message).toMatch(/not valid YAML at line \d/);
  });

  it("an unreadable file is a config error naming the file", () => {
    expect(errorOf(() => loadConfig(join(dir, "absent.yaml"), {})).message).toContain("absent.yaml");
  });

  it("parseConfig validates documents directly", () => {
    expect(parseConfig({ server: { port: 0 } }, {}).server.port).toBe(0);
  });
});
