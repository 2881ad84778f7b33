/**
 * Provisioning throughput, SCIM to slapd, each figure beside its reference in the same run:
 * - intake ceiling: an express 5 app that only parses the JSON body and answers 201, driven by the
 *   same 16 clients in the same process: no SCIM service can take users in faster over HTTP here;
 * - end to end: N users created by 16 concurrent clients, timed from the first POST until all N
 *   are in slapd (in_sync); target >= 0.8 of the intake ceiling;
 * - delivery only (drain): N users queued with the worker stopped, then the worker started;
 *   target >= 0.8 of plain ldapts adds of the same entries (computed by the same mapping and
 *   planner before the clock starts) at the same concurrency (one bound client, C operations in
 *   flight, as LdapTarget does) into a fresh ou of the same slapd;
 * - sustained: 16 clients creating users for S seconds; delivery lag (the POST's answer, just
 *   after the commit, to slapd's answer to the add, seen by the worker's LDAP observer) p50/p99
 *   per window; target p99 < 5 s and not growing (last window against the first).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import type { Client } from "ldapts";
import { Attribute } from "ldapts";
import type { Store } from "../db/open.js";
import { startSlapd, type SlapdHandle } from "../hooks/ldap/slapd.js";
import { compileRule, mapUser } from "../hooks/rules/mapping.js";
import type { LdapValue } from "../hooks/planning/ops.js";
import { planUser } from "../hooks/planning/planner.js";
import { SchemaRegistry } from "../schemas/registry.js";
import { parseConfig } from "../server/config/load.js";
import type { Config } from "../server/config/schema.js";
import { startServer, type Running } from "../server/serve.js";
import { boundClient, fmt, httpClient, percentile, row } from "./lib.js";

const TOKEN = "bench-token-provisioning-0123456789";
const CLIENTS = 16;

function userDoc(i: number, prefix = "bench"): Record<string, unknown> {
  return {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
    userName: `${prefix}${i}`,
    name: { givenName: `Given${i}`, familyName: `Family${i}` },
    displayName: `Bench User ${i}`,
    emails: [{ value: `${prefix}${i}@example.com`, type: "work", primary: true }],
    title: "Engineer",
    active: true,
  };
}

/** Runs `fn(i)` for i in [0, n) with `width` workers. */
async function pool(n: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

/** Entries below `base` (one level), counted with a paged search. */
async function countEntries(client: Client, base: string): Promise<number> {
  const r = await client.search(base, { scope: "one", filter: "(objectClass=inetOrgPerson)", attributes: ["1.1"], paged: { pageSize: 1000 }, sizeLimit: 0 });
  return r.searchEntries.length;
}

const inSync = async (store: Store) =>
  (await store.sync.counts()).filter((c) => c.state === "in_sync").reduce((n, c) => n + c.n, 0);

/** Waits until `n` rows are in_sync (bounded). Every 50 ms: polling more often took CPU from the process measured. */
async function untilInSync(store: Store, n: number, what: string): Promise<void> {
  const deadline = Date.now() + 900_000;
  while ((await inSync(store)) < n) {
    if (Date.now() > deadline) throw new Error(`${what}: only ${await inSync(store)} of ${n} delivered after 15 minutes`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const seconds = (from: bigint) => Number(process.hrtime.bigint() - from) / 1e9;

async function postAll(running: Running, users: number, prefix: string): Promise<void> {
  const http = httpClient(running.url, TOKEN, CLIENTS);
  await pool(users, CLIENTS, async (i) => {
    const r = await http.send("POST", "/Users", userDoc(i, prefix));
    if (r.status !== 201) throw new Error(`POST /Users: ${r.status} ${r.body.slice(0, 200)}`);
  });
  http.close();
}

/** The same config with the rule writing under another ou and another database. */
function variant(config: Config, dir: string, name: string, suffix: string, provisioning: Record<string, unknown> = {}): Config {
  const doc = JSON.parse(JSON.stringify(config)) as Record<string, unknown> & { userRules: Record<string, unknown>[]; provisioning: Record<string, unknown> };
  return parseConfig(
    { ...doc, storage: { file: join(dir, `${name}.db`) }, userRules: [{ ...doc.userRules[0], name, dn: `uid={userName},ou=${name},${suffix}` }], provisioning: { ...doc.provisioning, ...provisioning } },
    {},
  );
}

/** The intake ceiling: express 5 parsing the JSON body and answering 201, same clients and process. */
async function noopIntake(users: number): Promise<number> {
  const noop = express();
  noop.use(express.json({ type: ["application/json", "application/scim+json"] }));
  noop.post("/scim/v2/Users", (req, res) => void res.status(201).json({ id: String((req.body as { userName?: string }).userName) }));
  const server = await new Promise<Server>((resolve) => {
    const srv = noop.listen(0, "127.0.0.1", () => resolve(srv));
  });
  const http = httpClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}/scim/v2`, TOKEN, CLIENTS);
  const t0 = process.hrtime.bigint();
  await pool(users, CLIENTS, async (i) => {
    const r = await http.send("POST", "/Users", userDoc(i));
    if (r.status !== 201) throw new Error(`no-op POST: ${r.status}`);
  });
  const s = seconds(t0);
  http.close();
  await new Promise((r) => server.close(r));
  return users / s;
}

/** Plain ldapts adds of the entries the rule would write, same slapd, same concurrency. */
async function plainAdds(slapd: SlapdHandle, admin: Client, config: Config, users: number, concurrency: number): Promise<number> {
  const plainOu = `ou=plain,${slapd.suffix}`;
  await admin.add(plainOu, { objectClass: ["organizationalUnit"], ou: ["plain"] });
  const registry = new SchemaRegistry(config.scim.extensions);
  const rule = compileRule(registry, { ...config.userRules[0]!, dn: `uid={userName},${plainOu}` }, config.targets[0]!);
  const adds: { dn: string; attributes: Record<string, LdapValue[]> }[] = [];
  for (let i = 0; i < users; i++) {
    const plan = planUser({ rule, event: "upsert", targetSecure: false, after: await mapUser(rule, { ...userDoc(i), id: `x${i}` }) });
    const add = "error" in plan ? undefined : plan.ops.find((op) => op.kind === "add");
    if (add?.kind !== "add") throw new Error(`no add planned for user ${i}`);
    adds.push({ dn: add.dn, attributes: add.attributes });
  }
  const plain = await boundClient(slapd);
  const t0 = process.hrtime.bigint();
  await pool(users, concurrency, async (i) => {
    const a = adds[i]!;
    await plain.add(a.dn, Object.entries(a.attributes).map(([type, values]) => new Attribute({ type, values: values.map(String) })));
  });
  const s = seconds(t0);
  await plain.unbind();
  const count = await countEntries(admin, plainOu);
  if (count !== users) throw new Error(`slapd holds ${count} entries under ${plainOu}, expected ${users}`);
  return users / s;
}

/** Sustained intake: lag from each POST's answer to slapd's answer to its add, per window. */
async function sustained(config: Config, durationS: number, windowS: number): Promise<{ windows: { n: number; p50: number; p99: number }[]; all: number[]; rate: number; lost: number }> {
  const answered = new Map<string, number>();
  const lags: { at: number; lag: number }[] = [];
  const t0 = performance.now();
  const running = await startServer(config, {
    env: { SCIM_TOKEN: TOKEN },
    handleSignals: false,
    observers: {
      onLdapWrite: (e) => {
        if (e.operation !== "add" || e.outcome !== "success") return;
        const at = answered.get(e.resourceId);
        if (at !== undefined) lags.push({ at: at - t0, lag: performance.now() - at });
      },
    },
  });
  try {
    const http = httpClient(running.url, TOKEN, CLIENTS);
    let next = 0;
    const until = performance.now() + durationS * 1000;
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (performance.now() < until) {
          const r = await http.send("POST", "/Users", userDoc(next++, "sustained"));
          if (r.status !== 201) throw new Error(`POST /Users (sustained): ${r.status}`);
          answered.set((JSON.parse(r.body) as { id: string }).id, performance.now());
        }
      }),
    );
    http.close();
    await untilInSync(running.store, next, "sustained");
    const windows: { n: number; p50: number; p99: number }[] = [];
    for (let w = 0; w * windowS < durationS; w++) {
      const xs = lags.filter((l) => l.at >= w * windowS * 1000 && l.at < (w + 1) * windowS * 1000).map((l) => l.lag);
      if (xs.length) windows.push({ n: xs.length, p50: percentile(xs, 50), p99: percentile(xs, 99) });
    }
    return { windows, all: lags.map((l) => l.lag), rate: next / durationS, lost: next - lags.length };
  } finally {
    await running.stop();
  }
}

export async function benchProvisioning(users = 10_000, concurrency = 8, sustainSeconds = Number(process.env.BENCH_PROV_SUSTAIN_SECONDS ?? 60)): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "scimbridge-bench-prov-"));
  let slapd: SlapdHandle | undefined;
  let running: Running | undefined;
  let admin: Client | undefined;
  try {
    slapd = await startSlapd();
    const suffix = slapd.suffix;
    const config = parseConfig(
      {
        server: { port: 0 },
        storage: { file: join(dir, "bench.db") },
        logging: { level: "silent" },
        embeddedDirectory: { enabled: false },
        targets: [{ name: "slapd", directory: "openldap", urls: [slapd.url], bindDn: slapd.rootDn, bindPassword: slapd.rootPassword, concurrency }],
        userRules: [{ name: "bench", target: "slapd", dn: `uid={userName},ou=people,${suffix}` }],
        provisioning: { secretKey: Buffer.alloc(32, 3).toString("base64") },
      },
      {},
    );
    console.log(`\nProvisioning: ${users.toLocaleString("en")} users, target concurrency ${concurrency}, ${CLIENTS} SCIM clients (in this process), slapd ${slapd.url}`);
    admin = await boundClient(slapd);

    // --- intake ceiling --------------------------------------------------------------------------
    const ceiling = await noopIntake(users);

    // --- end to end: first POST until every entry is in slapd -----------------------------------
    running = await startServer(config, { env: { SCIM_TOKEN: TOKEN }, handleSignals: false });
    const t0 = process.hrtime.bigint();
    await postAll(running, users, "bench");
    const scimSeconds = seconds(t0);
    await untilInSync(running.store, users, "end to end");
    const e2eSeconds = seconds(t0);
    await running.stop();
    running = undefined;
    const inDirectory = await countEntries(admin, `ou=people,${suffix}`);
    if (inDirectory !== users) throw new Error(`slapd holds ${inDirectory} entries under ou=people, expected ${users}`);

    // --- delivery only: the same users queued with the worker stopped, then delivered ------------
    await admin.add(`ou=queued,${suffix}`, { objectClass: ["organizationalUnit"], ou: ["queued"] });
    // No backpressure here: the backlog is the point (the worker is stopped while it builds up).
    running = await startServer(variant(config, dir, "queued", suffix, { maxBacklog: 0 }), { env: { SCIM_TOKEN: TOKEN }, handleSignals: false });
    await running.provisioning.worker.stop();
    await postAll(running, users, "bench");
    const d0 = process.hrtime.bigint();
    await running.provisioning.worker.start();
    await untilInSync(running.store, users, "delivery only");
    const drainSeconds = seconds(d0);
    await running.stop();
    running = undefined;
    const queuedCount = await countEntries(admin, `ou=queued,${suffix}`);
    if (queuedCount !== users) throw new Error(`slapd holds ${queuedCount} entries under ou=queued, expected ${users}`);

    // --- plain ldapts -----------------------------------------------------------------------------
    const plainRate = await plainAdds(slapd, admin, config, users, concurrency);

    const e2eRate = users / e2eSeconds;
    const drainRate = users / drainSeconds;
    row(`intake ceiling: no-op express POST, ${CLIENTS} clients`, `${fmt(ceiling, 0)} requests/s`);
    row(`scimbridge end to end (first POST to all ${users} in slapd)`, `${fmt(e2eSeconds)} s = ${fmt(e2eRate, 0)} entries/s`);
    row("  SCIM side (all POSTs answered)", `${fmt(scimSeconds)} s = ${fmt(users / scimSeconds, 0)} requests/s`);
    row("ratio end to end / intake ceiling (target >= 0.8)", fmt(e2eRate / ceiling));
    row(`plain ldapts add, concurrency ${concurrency}`, `${fmt(plainRate, 0)} entries/s`);
    row(`delivery only (${users} queued users drained)`, `${fmt(drainSeconds)} s = ${fmt(drainRate, 0)} entries/s`);
    row("ratio delivery only / plain (target >= 0.8)", fmt(drainRate / plainRate));
    row("ratio end to end / plain", fmt(e2eRate / plainRate));

    // --- sustained intake: delivery lag ----------------------------------------------------------
    if (sustainSeconds > 0) {
      await admin.add(`ou=sustained,${suffix}`, { objectClass: ["organizationalUnit"], ou: ["sustained"] });
      const windowS = Math.max(1, Math.round(sustainSeconds / 6));
      const s = await sustained(variant(config, dir, "sustained", suffix), sustainSeconds, windowS);
      row(`sustained: ${CLIENTS} clients for ${sustainSeconds} s`, `${fmt(s.rate, 0)} users/s created`);
      for (const [i, w] of s.windows.entries()) row(`  lag, writes answered in ${i * windowS}-${(i + 1) * windowS} s (${w.n})`, `p50 ${fmt(w.p50, 0)} ms, p99 ${fmt(w.p99, 0)} ms`);
      row("  lag p99, whole run (target < 5000 ms)", `${fmt(percentile(s.all, 99), 0)} ms`);
      const first = s.windows[0];
      const last = s.windows[s.windows.length - 1];
      if (first && last) row("  lag p99 last window / first (not growing: about 1 or less)", fmt(last.p99 / first.p99));
      if (s.lost) row("  adds not seen by the observer (must be 0)", String(s.lost));
    }
  } finally {
    await running?.stop().catch(() => undefined);
    await admin?.unbind().catch(() => undefined);
    await slapd?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
