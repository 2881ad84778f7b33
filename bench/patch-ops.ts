/**
 * PATCH cost per operation (RFC 7644 §3.5.2), over HTTP against a real server and SQLite file:
 * one PATCH of N `add emails` operations for N = 10, 100 and scim.limits.patchOperations. Applied
 * in linear time, the time per operation stays flat from 10 to the limit: the target is a ratio
 * (per-op time at the limit / per-op time at 10) of at most 2. Before, 4,000 operations took
 * 18.5 s and 10,000 took 143 s. The marginal cost ((t(limit) - t(10)) / (limit - 10)) is printed
 * too, since per-op time at 10 also carries the request's fixed cost.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_LIMITS } from "../schemas/limits.js";
import { parseConfig } from "../server/config/load.js";
import { startServer } from "../server/serve.js";
import { fmt, httpClient, median, row, timeEach } from "./lib.js";

const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
const TOKEN = "bench-token-0123456789";

export async function benchPatchOps(limit = DEFAULT_LIMITS.patchOperations): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "scimbridge-bench-patch-"));
  try {
    const config = parseConfig(
      { server: { port: 0 }, storage: { file: join(dir, "bench.db") }, logging: { level: "silent" }, scim: { limits: { patchOperations: limit, attributeValues: limit + 1 } } },
      {},
    );
    const running = await startServer(config, { env: { SCIM_TOKEN: TOKEN }, handleSignals: false });
    const http = httpClient(running.url, TOKEN, 1);
    try {
      console.log(`\nPATCH operations: one PATCH of N 'add emails' operations (limit ${limit})`);
      let seq = 0;
      const timeFor = async (n: number, runs: number) => {
        const times = await timeEach(runs, 3, async () => {
          const created = await http.send("POST", "/Users", { schemas: [USER], userName: `patch${seq++}` });
          const id = (JSON.parse(created.body) as { id: string }).id;
          const Operations = Array.from({ length: n }, (_, i) => ({ op: "add", path: "emails", value: [{ value: `e${i}@example.com`, type: "work" }] }));
          const r = await http.send("PATCH", `/Users/${id}`, { schemas: [PATCH_OP], Operations });
          if (r.status !== 200) throw new Error(`PATCH ${r.status} ${r.body.slice(0, 200)}`);
        });
        return median(times);
      };
      // Each sample includes the POST of a fresh user; subtract its own median to keep PATCH alone.
      const post = median(await timeEach(30, 3, async () => void (await http.send("POST", "/Users", { schemas: [USER], userName: `post${seq++}` }))));
      const sizes = [...new Set([10, 100, limit])];
      const t = new Map<number, number>();
      for (const n of sizes) t.set(n, Math.max(0.001, (await timeFor(n, n >= 1000 ? 10 : 30)) - post));
      for (const n of sizes) row(`PATCH of ${n} operations (median)`, `${fmt(t.get(n)!)} ms, ${fmt((t.get(n)! / n) * 1000, 1)} µs/op`);
      const ratio = t.get(limit)! / limit / (t.get(10)! / 10);
      const marginal = ((t.get(limit)! - t.get(10)!) / (limit - 10)) * 1000;
      row(`per-op time at ${limit} / per-op time at 10 (target ≤ 2)`, `${fmt(ratio)} ${ratio <= 2 ? "PASS" : "FAIL"}`);
      row(`marginal cost per operation, 10 → ${limit}`, `${fmt(marginal, 1)} µs/op`);
    } finally {
      http.close();
      await running.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
