/**
 * `npm run bench -- scale`: a million users and a 100,000-member group. Seeds them through the
 * store's own insert path in one transaction, starts the server in a child process (so its peak
 * RSS is the server's alone), then measures over HTTP on loopback, one request at a time:
 * - filter lookup (userName eq, other case) next to GET by id (target: ratio <= 1.5);
 * - an index page near the end (startIndex=N-99&count=100; OFFSET over a covering index);
 * - a cursor page (RFC 9865) at depth 1, 500,000 and 999,900 (target: each <= 2x the first);
 * - PATCH adding a member with the default response (204) to the 100,000-member group and to a
 *   10-member group (target: ratio <= 2), and GET of the large group with excludedAttributes=members;
 * - database size per 100,000 users, and the server's peak RSS (target: < 400 MB).
 * Sizes: BENCH_SCALE_USERS (default 1,000,000), BENCH_SCALE_GROUP (default 100,000).
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { CursorCodec, queryDigest } from "../db/cursor.js";
import { openStore } from "../db/open.js";
import { parseConfig } from "../server/config/load.js";
import { startServer } from "../server/serve.js";
import { CURSOR_TIMEOUT_SECONDS } from "../server/scim/service.js";
import { fmt, httpClient, median, percentile, rawHttpClient, row, timeEach, type HttpClient } from "./lib.js";

const TOKEN = "bench-token-0123456789";
const SECRET_KEY = Buffer.alloc(32, 9);
const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/** Users added to groups while measuring PATCH (never members before). */
const SPARE = 2000;

type ServerMessage = { url: string; rssKb: number } | { maxRssKb: number };

/** Child mode: run the server on the given database until the parent says stop, then report peak RSS. */
async function serveChild(file: string): Promise<void> {
  const config = parseConfig({ server: { port: 0 }, storage: { file }, logging: { level: "silent" }, provisioning: { secretKey: SECRET_KEY.toString("base64") } }, {});
  const running = await startServer(config, { env: { SCIM_TOKEN: TOKEN }, handleSignals: false });
  process.send!({ url: running.url, rssKb: process.memoryUsage().rss / 1024 } satisfies ServerMessage);
  process.once("message", () => {
    void running.stop().then(() => {
      // resourceUsage().maxRSS is in kilobytes (getrusage ru_maxrss on Linux).
      process.send!({ maxRssKb: process.resourceUsage().maxRSS } satisfies ServerMessage, () => process.exit(0));
    });
  });
}

function startChild(file: string): Promise<{ child: ChildProcess; url: string; rssKb: number }> {
  const child = fork(fileURLToPath(import.meta.url), [file], { execArgv: ["--import", "tsx"], env: { ...process.env, SCIMBRIDGE_SCALE_CHILD: "1" }, stdio: ["ignore", "ignore", "inherit", "ipc"] });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`server exited with ${code} before starting`)));
    child.once("message", (m: ServerMessage) => {
      child.removeAllListeners("exit");
      if ("url" in m) resolve({ child, url: m.url, rssKb: m.rssKb });
    });
  });
}

function stopChild(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    child.once("message", (m: ServerMessage) => ("maxRssKb" in m ? resolve(m.maxRssKb) : reject(new Error("unexpected message"))));
    child.once("exit", (code) => reject(new Error(`server exited with ${code} before reporting`)));
    child.send("stop");
  });
}

interface Seeded {
  ids: string[];
  bigGroup: string;
  smallGroup: string;
  spare: string[];
}

/** The store's insert path (ResourceQueries, as the SCIM service writes), one transaction. */
async function seed(file: string, users: number, members: number): Promise<Seeded> {
  const store = openStore(file);
  const ids: string[] = [];
  const at = new Date().toISOString();
  const bigGroup = randomUUID();
  const smallGroup = randomUUID();
  await store.transaction(async ({ resources: q }) => {
    for (let i = 0; i < users; i++) {
      const id = randomUUID();
      ids.push(id);
      // As an IdP pushes them (Entra and Okta send externalId, name, emails, title).
      const userName = `user${i}@example.com`;
      const attributes = { userName, externalId: `ext-${i}`, displayName: `User ${i}`, title: "Engineer", name: { givenName: `Given${i}`, familyName: `Family${i}` }, emails: [{ value: userName, type: "work", primary: true }], active: true };
      await q.insert("User", { id, created: at, lastModified: at, version: 1, attributes });
    }
    await q.insert("Group", { id: bigGroup, created: at, lastModified: at, version: 1, attributes: { displayName: "Everyone" } });
    await q.insert("Group", { id: smallGroup, created: at, lastModified: at, version: 1, attributes: { displayName: "Ten" } });
    await q.addMembers(bigGroup, ids.slice(0, members).map((id) => ({ id, type: "User" as const })));
    await q.addMembers(smallGroup, ids.slice(members, members + 10).map((id) => ({ id, type: "User" as const })));
  });
  await store.close();
  return { ids, bigGroup, smallGroup, spare: ids.slice(members + 10, members + 10 + SPARE) };
}

const expectStatus = (r: { status: number; body: string }, status: number, what: string) => {
  if (r.status !== status) throw new Error(`${what}: ${r.status} ${r.body.slice(0, 300)}`);
};

/**
 * Times `fn(k)` for each of `variants` in turn, `n` rounds after `warm` rounds: warm-up and a
 * neighbour's load fall on each variant alike. Per-variant milliseconds.
 */
async function roundRobin(variants: number, n: number, warm: number, fn: (k: number) => Promise<void>): Promise<number[][]> {
  const out: number[][] = Array.from({ length: variants }, () => []);
  for (let i = 0; i < (n + warm) * variants; i++) {
    const k = i % variants;
    const t0 = process.hrtime.bigint();
    await fn(k);
    if (i >= warm * variants) out[k]!.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return out;
}

const p50 = (xs: number[]) => `${fmt(median(xs), 3)} ms (p95 ${fmt(percentile(xs, 95), 3)})`;

export async function benchScale(users = 1_000_000, members = 100_000): Promise<void> {
  if (users < members + 10 + SPARE || users < 200) throw new Error(`BENCH_SCALE_USERS must be at least BENCH_SCALE_GROUP + ${10 + SPARE}`);
  const dir = mkdtempSync(join(tmpdir(), "scimbridge-bench-scale-"));
  let child: ChildProcess | undefined;
  let http: HttpClient | undefined;
  try {
    const file = join(dir, "scale.db");
    const t0 = Date.now();
    const s = await seed(file, users, members);
    const seedSeconds = (Date.now() - t0) / 1000;
    const bytes = statSync(file).size;
    console.log(`\nScale: ${users.toLocaleString("en")} users, a ${members.toLocaleString("en")}-member and a 10-member group (load average ${loadavg().map((l) => l.toFixed(1)).join(" ")})`);
    row("seeded through the store's insert path, one transaction", `${fmt(seedSeconds, 1)} s`);
    row("database size per 100,000 users", `${fmt(bytes / 1e6 / (users / 100_000), 1)} MB (${fmt(bytes / 1e6, 0)} MB in all)`);

    const started = await startChild(file);
    child = started.child;
    http = await rawHttpClient(started.url, TOKEN);
    const c = http;

    let n = 0;
    const [byId, byFilter] = await roundRobin(2, 2000, 200, async (k) => {
      const i = (n++ * 7919) % users;
      if (k === 0) return expectStatus(await c.get(`/Users/${s.ids[i]}`), 200, "GET by id");
      const r = await c.get(`/Users?filter=${encodeURIComponent(`userName eq "USER${i}@EXAMPLE.COM"`)}`);
      expectStatus(r, 200, "filter");
      if (!r.body.includes('"totalResults":1,')) throw new Error(`filter found ${r.body.slice(0, 200)}`);
    });
    row("GET /Users/{id}, median", p50(byId!));
    row('GET /Users?filter=userName eq "<other case>", median', p50(byFilter!));
    row("ratio filter / by id (target <= 1.5)", fmt(median(byFilter!) / median(byId!)));

    const last = users - 99;
    const indexDeep = await timeEach(30, 3, async () => expectStatus(await c.get(`/Users?startIndex=${last}&count=100`), 200, "index page"));
    row(`GET /Users?startIndex=${last}&count=100 (index page near the end), median`, p50(indexDeep));

    // A cursor at depth d is what the server hands out after d/100 pages; it is sealed here with the
    // server's key (db/cursor.ts) instead of walking there. Without sortBy the key is seq, which the
    // seeding assigned 1..N in order. Checked against the index page at the same depth.
    const codec = new CursorCodec(SECRET_KEY);
    const cursorAt = (depth: number) => {
      if (depth === 0) return "";
      const expires = Math.floor(Date.now() / 1000) + CURSOR_TIMEOUT_SECONDS;
      return codec.seal({ direction: "next", at: { kind: "User", key: depth, seq: depth }, query: queryDigest(["Users", undefined, undefined, false]), count: 100, expires });
    };
    const cursorDepths = [0, Math.floor(users / 2), users - 100];
    const cursors = cursorDepths.map(cursorAt);
    for (const [i, depth] of cursorDepths.entries()) {
      const viaIndex = JSON.parse((await c.get(`/Users?startIndex=${depth + 1}&count=1`)).body) as { Resources: { id: string }[] };
      const first = JSON.parse((await c.get(`/Users?cursor=${cursors[i]}&count=100`)).body) as { Resources: { id: string }[] };
      if (first.Resources[0]?.id !== viaIndex.Resources[0]?.id) throw new Error(`cursor page at depth ${depth} starts at another user than the index page`);
    }
    // Round robin over the depths, so warm-up and a neighbour's load fall on each alike.
    const cursorTimes = await roundRobin(cursors.length, 300, 30, async (k) => expectStatus(await c.get(`/Users?cursor=${cursors[k]}&count=100`), 200, "cursor page"));
    const firstCursor = median(cursorTimes[0]!);
    for (const [i, depth] of cursorDepths.entries()) {
      row(`GET /Users?cursor=...&count=100 at depth ${(depth + 1).toLocaleString("en")}, median`, p50(cursorTimes[i]!));
      if (i > 0) row(`  ratio to the first page (target <= 2)`, fmt(median(cursorTimes[i]!) / firstCursor));
    }
    row("ratio index page near the end / cursor page there", fmt(median(indexDeep) / median(cursorTimes[2]!)));
    // What the index page pays beyond the cursor page is the OFFSET: SQLite steps over that many
    // entries of the smallest index in seq order (users_seq, covering) and cannot seek to an
    // offset, so this per-entry cost is the floor of index paging at depth.
    row("  OFFSET cost per skipped index entry (the floor of index paging)", `${fmt(((median(indexDeep) - median(cursorTimes[2]!)) * 1e6) / (users - 100), 1)} ns`);

    // node:http's client for the PATCHes: a 204 carries no Content-Length (RFC 9110 §8.6), which
    // the raw probe needs; its own cost is the same for both group sizes.
    const patcher = httpClient(started.url, TOKEN, 1);
    let spare = 0;
    const groups = [s.smallGroup, s.bigGroup];
    const patchTimes = await roundRobin(groups.length, 600, 50, async (k) => {
      const body = { schemas: [PATCH_OP], Operations: [{ op: "add", path: "members", value: [{ value: s.spare[spare++ % s.spare.length] }] }] };
      expectStatus(await patcher.send("PATCH", `/Groups/${groups[k]}`, body), 204, "group PATCH");
    });
    patcher.close();
    row("PATCH add member, 10-member group (204), median", p50(patchTimes[0]!));
    row(`PATCH add member, ${members.toLocaleString("en")}-member group (204), median`, p50(patchTimes[1]!));
    row("ratio large / small group PATCH (target <= 2)", fmt(median(patchTimes[1]!) / median(patchTimes[0]!)));
    // A new probe connection: the first one sat idle past the server's keep-alive timeout.
    http.close();
    http = await rawHttpClient(started.url, TOKEN);
    const g = http;
    const getTimes = await roundRobin(groups.length, 500, 50, async (k) => expectStatus(await g.get(`/Groups/${groups[k]}?excludedAttributes=members`), 200, "GET group"));
    row("GET /Groups/{10-member}?excludedAttributes=members, median", p50(getTimes[0]!));
    row(`GET /Groups/{${members.toLocaleString("en")}-member}?excludedAttributes=members, median`, p50(getTimes[1]!));

    http.close();
    http = undefined;
    const rssKb = await stopChild(child);
    child = undefined;
    row("server RSS after start; peak RSS (target < 400 MB)", `${fmt(started.rssKb / 1024, 0)} MB; ${fmt(rssKb / 1024, 0)} MB`);
  } finally {
    http?.close();
    child?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.env.SCIMBRIDGE_SCALE_CHILD === "1" && process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await serveChild(process.argv[2]!);
}
