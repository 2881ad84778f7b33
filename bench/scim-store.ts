/**
 * Issue 2 figures, at 100,000 stored users, over HTTP on loopback (real server, real SQLite file):
 * - median GET /Users?filter=userName eq "<X>" (different case from stored) next to GET /Users/{id}
 *   (target: filter lookup within 1.5x of the by-id read);
 * - median GET /Users?startIndex=<users - 99> (90,001 at the default 100,000 users)&count=100 (target: under 25 ms).
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../db/open.js";
import { parseConfig } from "../server/config/load.js";
import { startServer } from "../server/serve.js";
import { fmt, httpClient, median, percentile, row, timeEach } from "./lib.js";

export async function benchScimStore(users = 100_000): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "scimbridge-bench-"));
  try {
    const file = join(dir, "bench.db");
    // Seed through the same query layer the service writes with, in one transaction (fast set-up).
    const seed = openStore(file);
    const ids: string[] = [];
    const t0 = Date.now();
    await seed.transaction(async ({ resources: q }) => {
      const at = new Date().toISOString();
      for (let i = 0; i < users; i++) {
        const id = randomUUID();
        ids.push(id);
        await q.insert("User", {
          id,
          created: at,
          lastModified: at,
          version: 1,
          attributes: {
            userName: `user${i}@example.com`,
            name: { givenName: `Given${i}`, familyName: `Family${i}` },
            displayName: `User ${i}`,
            emails: [{ value: `user${i}@example.com`, type: "work", primary: true }],
            active: true,
          },
        });
      }
    });
    await seed.close();
    console.log(`\nSCIM store: ${users.toLocaleString("en")} users seeded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    const config = parseConfig({ server: { port: 0 }, storage: { file }, logging: { level: "silent" } }, {});
    const running = await startServer(config, { env: { SCIM_TOKEN: "bench-token-0123456789" }, handleSignals: false });
    const http = httpClient(running.url, "bench-token-0123456789", 1);
    try {
      const n = 2000;
      const pick = (i: number) => (i * 7919) % users;
      const byId = await timeEach(n, 200, async (i) => {
        const r = await http.get(`/Users/${ids[pick(i)]}`);
        if (r.status !== 200) throw new Error(`GET by id: ${r.status}`);
      });
      const byFilter = await timeEach(n, 200, async (i) => {
        const f = encodeURIComponent(`userName eq "USER${pick(i)}@EXAMPLE.COM"`);
        const r = await http.get(`/Users?filter=${f}`);
        if (r.status !== 200 || !r.body.includes('"totalResults":1')) throw new Error(`filter: ${r.status} ${r.body.slice(0, 200)}`);
      });
      const deep = await timeEach(200, 20, async () => {
        const r = await http.get(`/Users?startIndex=${users - 99}&count=100`);
        if (r.status !== 200 || !r.body.includes('"itemsPerPage":100')) throw new Error(`deep page: ${r.status}`);
      });
      const [mId, mFilter, mDeep] = [median(byId), median(byFilter), median(deep)];
      row("GET /Users/{id} median (p95)", `${fmt(mId, 3)} ms (${fmt(percentile(byId, 95), 3)})`);
      row('GET /Users?filter=userName eq "<X, other case>" median (p95)', `${fmt(mFilter, 3)} ms (${fmt(percentile(byFilter, 95), 3)})`);
      row("ratio filter / by-id (target <= 1.5)", fmt(mFilter / mId));
      row(`GET /Users?startIndex=${users - 99}&count=100 median (target < 25 ms)`, `${fmt(mDeep)} ms`);
    } finally {
      http.close();
      await running.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
