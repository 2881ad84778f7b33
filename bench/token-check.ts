/**
 * The bearer-token check a SCIM request pays before anything else (server/auth/tokens.ts verify:
 * the stored hashes read, then every one compared in constant time), beside the request it guards:
 * a small PATCH (one `replace displayName`) over HTTP against a real server and SQLite file, p50
 * of sequential requests on one keep-alive connection. The share says whether making the check
 * cheaper could move a figure a client would notice. BENCH_TOKENS stored tokens (default 10).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../db/open.js";
import { TokenService } from "../server/auth/tokens.js";
import { parseConfig } from "../server/config/load.js";
import { secretKeyOf } from "../server/secret-key.js";
import { startServer } from "../server/serve.js";
import { fmt, median, rawHttpClient, row, timeEach } from "./lib.js";

const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
const TOKEN = "bench-token-0123456789";

/** Median µs per call of `fn`, over `rounds` rounds of `calls` calls each. */
async function microsPerCall(fn: () => Promise<void>, calls = 2000, rounds = 15): Promise<number> {
  for (let i = 0; i < calls; i++) await fn();
  const perRound: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) await fn();
    perRound.push(Number(process.hrtime.bigint() - t0) / 1e3 / calls);
  }
  return median(perRound);
}

export async function benchTokenCheck(stored = 10): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "scimbridge-bench-token-"));
  try {
    const config = parseConfig({ server: { port: 0 }, storage: { file: join(dir, "bench.db") }, logging: { level: "silent" } }, {});
    const running = await startServer(config, { env: { SCIM_TOKEN: TOKEN }, handleSignals: false });
    // A second connection to the same file, as the CLI's `token create` would be.
    const store = openStore(config.storage.file);
    const http = await rawHttpClient(running.url, TOKEN);
    try {
      const tokens = new TokenService(store, secretKeyOf(config));
      for (let i = 1; i < stored; i++) await tokens.create(`client${i}`);
      console.log(`\nToken check: verify() with ${stored} stored tokens, beside a small PATCH over HTTP`);
      const verify = await microsPerCall(async () => {
        if ((await tokens.verify(TOKEN)) !== "env") throw new Error("the bench token does not verify");
      });
      const created = await http.send("POST", "/Users", { schemas: [USER], userName: "token-bench" });
      const id = (JSON.parse(created.body) as { id: string }).id;
      let n = 0;
      const patch = median(
        await timeEach(500, 50, async () => {
          const r = await http.send("PATCH", `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: "replace", path: "displayName", value: `Bench ${n++}` }] });
          if (r.status !== 200) throw new Error(`PATCH ${r.status} ${r.body.slice(0, 200)}`);
        }),
      );
      row("verify() per request (median)", `${fmt(verify, 1)} µs`);
      row("small PATCH over HTTP (p50, sequential)", `${fmt(patch * 1000, 0)} µs`);
      row("verify() / PATCH", `${fmt((verify / (patch * 1000)) * 100, 1)} %`);
    } finally {
      http.close();
      await store.close();
      await running.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
