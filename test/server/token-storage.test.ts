/**
 * Stored bearer tokens: a keyed hash (HMAC under a key derived from the server's secret key), so a
 * copy of the database gives nothing to guess offline, even for a short user-chosen SCIM_TOKEN; a
 * hint of at most 4 characters; rows written by older versions (bare SHA-256, 8-character hint)
 * upgraded in place and still accepted.
 */
import { createHash, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import supertest from "supertest";
import { afterEach, describe, expect, it } from "vitest";
import { createApp } from "../../server/app.js";
import { TokenService } from "../../server/auth/tokens.js";
import { createLogger } from "../../server/logger.js";
import { secretKeyOf } from "../../server/secret-key.js";
import { ensureToken } from "../../server/serve.js";
import { runCli } from "../helpers/cli.js";
import { testApp, type TestApp } from "../helpers/app.js";

const sha256hex = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");
const SHORT = "Tr0ub4dor&3xyzQ!"; // a 16-character token a person chose

let t: TestApp;
afterEach(() => t?.close());

const rows = () => t.store.sqlite.prepare("SELECT name, hash, hint FROM tokens").all() as { name: string; hash: string; hint: string }[];

describe("stored tokens", () => {
  it("a user-chosen SCIM_TOKEN is stored as a keyed hash with at most 4 characters in clear", async () => {
    t = await testApp();
    await ensureToken(t.tokens, { SCIM_TOKEN: SHORT });
    const row = rows().find((r) => r.name === "env")!;
    expect(row.hint).toBe(SHORT.slice(0, 4));
    expect(row.hint.length).toBeLessThanOrEqual(4);
    expect(JSON.stringify(rows())).not.toContain(SHORT.slice(0, 5));
    // The offline attack of the old scheme: with the database alone, a candidate's SHA-256 no longer confirms it.
    expect(row.hash).not.toContain(sha256hex(SHORT));
    expect(row.hash).toMatch(/^hmac\$[0-9a-f]{8}\$[0-9a-f]{64}$/);
    expect((await t.http.get("/scim/v2/Users").set("Authorization", `Bearer ${SHORT}`)).status).toBe(200);
  });

  it("generated tokens keep 256 random bits; their hint is the scb_ prefix and 4 characters", async () => {
    t = await testApp();
    expect(t.token).toMatch(/^scb_[A-Za-z0-9_-]{43}$/);
    const row = rows().find((r) => r.name === "test-client")!;
    expect(row.hint).toBe(t.token.slice(0, 8));
  });

  it("token list shows at most 4 characters of a token", async () => {
    t = await testApp();
    await t.tokens.put("env", SHORT);
    const config = join(t.dir, "c.yaml");
    writeFileSync(config, `storage: { file: ${t.dbFile} }\nlogging: { level: warn }\n`);
    const list = runCli(["token", "list", "--config", config]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^env\tTr0u…\t/m);
    expect(list.stdout).not.toContain(SHORT.slice(0, 5));
  });

  it("rows from before keyed hashing (bare SHA-256, 8-character hint) are upgraded in place and keep working", async () => {
    t = await testApp();
    const legacy = "legacy-token-chosen-by-hand";
    t.store.sqlite.prepare("INSERT INTO tokens (name, hash, hint, created) VALUES (?, ?, ?, ?)").run("old", sha256hex(legacy), legacy.slice(0, 8), "2025-01-01T00:00:00.000Z");
    // A restart: a new app on the same database.
    const restarted = createApp({ config: t.config, store: t.store, logger: createLogger("silent") });
    // The upgrade begins when the app is built, without any token; every token method waits for it.
    await restarted.tokens.list();
    const row = rows().find((r) => r.name === "old")!;
    expect(row.hash).toMatch(/^hmac\$/);
    expect(row.hash).not.toContain(sha256hex(legacy));
    expect(row.hint).toBe("lega");
    expect((await supertest(restarted.app).get("/scim/v2/Users").set("Authorization", `Bearer ${legacy}`)).status).toBe(200);
    expect((await supertest(restarted.app).get("/scim/v2/Users").set("Authorization", "Bearer legacy-token-chosen-by-hanD")).status).toBe(401);
  });

  it("the hash is keyed by the server's secret key: under another key a token fails and is reported", async () => {
    t = await testApp();
    const other = new TokenService(t.store, randomBytes(32));
    expect(await other.verify(t.token)).toBeUndefined();
    expect(await other.storedUnderOtherKey()).toEqual(["test-client"]);
    expect(await new TokenService(t.store, secretKeyOf(t.config)).verify(t.token)).toBe("test-client");
  });
});
