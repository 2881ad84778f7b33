import { Writable } from "node:stream";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import supertest from "supertest";
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "../../db/open.js";
import { createApp } from "../../server/app.js";
import { parseConfig } from "../../server/config/load.js";
import { createLogger } from "../../server/logger.js";
import { PATCH_OP, user } from "../helpers/app.js";

const dir = mkdtempSync(join(tmpdir(), "scimbridge-log-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("request logs", () => {
  it("one structured line per request with a request id; never a password or token", async () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _e, cb) { lines.push(...chunk.toString().split("\n").filter(Boolean)); cb(); } });
    const config = parseConfig({ storage: { file: join(dir, "db.sqlite") }, auth: { basic: [{ username: "u", password: "basic-password-123" }] } }, {});
    const store = openStore(config.storage.file);
    const { app, tokens } = createApp({ config, store, logger: createLogger("info", sink) });
    const token = await tokens.create("t");
    const http = supertest(app);
    const created = await http.post("/scim/v2/Users").set("Authorization", `Bearer ${token}`).send(user("log", { password: "Very$ecret1" }));
    await http.patch(`/scim/v2/Users/${created.body.id}`).set("Authorization", `Bearer ${token}`).send({ schemas: [PATCH_OP], Operations: [{ op: "replace", path: "password", value: "Other$ecret2" }] });
    await http.get("/scim/v2/Users").set("Authorization", `Basic ${Buffer.from("u:basic-password-123").toString("base64")}`).set("X-Request-Id", "abc-123");
    await http.get("/scim/v2/Users").set("Authorization", "Bearer wrong-token-value");
    await store.close();

    const requests = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === "request");
    expect(requests).toHaveLength(4);
    for (const r of requests) expect(r).toMatchObject({ reqId: expect.any(String), method: expect.any(String), status: expect.any(Number), ms: expect.any(Number) });
    expect(requests[0]).toMatchObject({ method: "POST", path: "/scim/v2/Users", status: 201, client: "t" });
    expect(requests[2]).toMatchObject({ reqId: "abc-123", client: "u" });
    const all = lines.join("\n");
    for (const secret of [token, "Very$ecret1", "Other$ecret2", "basic-password-123", "wrong-token-value"]) expect(all).not.toContain(secret);
  });
});
