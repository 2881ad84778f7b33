/**
 * Issue 4 figure: end-to-end provisioning throughput. N users (default 10,000) created over SCIM
 * HTTP by 16 concurrent clients against the real server, timed from the first POST until all N
 * entries are in slapd; next to a plain ldapts add of the same N inetOrgPerson entries (the
 * attributes the rule writes, computed by the same mapping and planner before the clock starts)
 * with the same concurrency (one bound Client, C operations in flight, as LdapTarget does) against
 * a fresh ou of the same slapd in the same run. Target: scimbridge / plain >= 0.8.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import type { Client } from "ldapts";
import { Attribute } from "ldapts";
import { startSlapd, type SlapdHandle } from "../hooks/ldap/slapd.js";
import { compileRule, mapUser } from "../hooks/rules/mapping.js";
import type { LdapValue } from "../hooks/planning/ops.js";
import { planUser } from "../hooks/planning/planner.js";
import { SchemaRegistry } from "../schemas/registry.js";
import { parseConfig } from "../server/config/load.js";
import { startServer, type Running } from "../server/serve.js";
import { boundClient, fmt, httpClient, row } from "./lib.js";

const TOKEN = "bench-token-provisioning-0123456789";
const CLIENTS = 16;

function userDoc(i: number): Record<string, unknown> {
  return {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
    userName: `bench${i}`,
    name: { givenName: `Given${i}`, familyName: `Family${i}` },
    displayName: `Bench User ${i}`,
    emails: [{ value: `bench${i}@example.com`, type: "work", primary: true }],
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

export async function benchProvisioning(users = 10_000, concurrency = 8): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "scimbridge-bench-prov-"));
  let slapd: SlapdHandle | undefined;
  let running: Running | undefined;
  let admin: Client | undefined;
  try {
    slapd = await startSlapd();
    const suffix = slapd.suffix;
    const ruleDoc = { name: "bench", target: "slapd", dn: `uid={userName},ou=people,${suffix}` };
    const config = parseConfig(
      {
        server: { port: 0 },
        storage: { file: join(dir, "bench.db") },
        logging: { level: "silent" },
        embeddedDirectory: { enabled: false },
        targets: [{ name: "slapd", directory: "openldap", urls: [slapd.url], bindDn: slapd.rootDn, bindPassword: slapd.rootPassword, concurrency }],
        userRules: [ruleDoc],
        provisioning: { secretKey: Buffer.alloc(32, 3).toString("base64") },
      },
      {},
    );
    console.log(`\nProvisioning: ${users.toLocaleString("en")} users, target concurrency ${concurrency}, ${CLIENTS} SCIM clients, slapd ${slapd.url}`);
    running = await startServer(config, { env: { SCIM_TOKEN: TOKEN }, handleSignals: false });
    admin = await boundClient(slapd);
    const http = httpClient(running.url, TOKEN, CLIENTS);

    // --- scimbridge: first POST until every entry is in slapd ---------------------------------
    const inSync = running.store.sqlite.prepare("SELECT count(*) AS n FROM sync_state WHERE state = 'in_sync'");
    const t0 = process.hrtime.bigint();
    let scimDone = 0n;
    const posting = pool(users, CLIENTS, async (i) => {
      const r = await http.send("POST", "/Users", userDoc(i));
      if (r.status !== 201) throw new Error(`POST /Users: ${r.status} ${r.body.slice(0, 200)}`);
    }).then(() => {
      scimDone = process.hrtime.bigint();
    });
    await posting;
    const deadline = Date.now() + 600_000;
    while ((inSync.get() as { n: number }).n < users) {
      if (Date.now() > deadline) throw new Error(`only ${(inSync.get() as { n: number }).n} of ${users} delivered after 10 minutes`);
      // Every 50 ms: counting in_sync rows scans the index, and polling it every few ms took CPU
      // from the process being measured; 50 ms is at most 0.3% of a run.
      await new Promise((r) => setTimeout(r, 50));
    }
    const tEnd = process.hrtime.bigint();
    http.close();
    const inDirectory = await countEntries(admin, `ou=people,${suffix}`);
    if (inDirectory !== users) throw new Error(`slapd holds ${inDirectory} entries under ou=people, expected ${users}`);
    const scimSeconds = Number(scimDone - t0) / 1e9;
    const e2eSeconds = Number(tEnd - t0) / 1e9;
    await running.stop();
    running = undefined;

    // --- delivery only: the same users queued with the worker stopped, then delivered ----------
    // Separates the LDAP path (outbox → map → plan → ldapts) from SCIM intake (HTTP + commit).
    await admin.add(`ou=queued,${suffix}`, { objectClass: ["organizationalUnit"], ou: ["queued"] });
    const queuedConfig = parseConfig(
      { ...JSON.parse(JSON.stringify(config)), storage: { file: join(dir, "queued.db") }, userRules: [{ ...ruleDoc, name: "queued", dn: `uid={userName},ou=queued,${suffix}` }] },
      {},
    );
    running = await startServer(queuedConfig, { env: { SCIM_TOKEN: TOKEN }, handleSignals: false });
    await running.provisioning.worker.stop();
    const queueHttp = httpClient(running.url, TOKEN, CLIENTS);
    await pool(users, CLIENTS, async (i) => {
      const r = await queueHttp.send("POST", "/Users", userDoc(i));
      if (r.status !== 201) throw new Error(`POST /Users (queued): ${r.status}`);
    });
    queueHttp.close();
    const queuedInSync = running.store.sqlite.prepare("SELECT count(*) AS n FROM sync_state WHERE state = 'in_sync'");
    const d0 = process.hrtime.bigint();
    running.provisioning.worker.start();
    while ((queuedInSync.get() as { n: number }).n < users) {
      if (Date.now() > deadline) throw new Error("queued deliveries did not finish in time");
      // Every 50 ms: counting in_sync rows scans the index, and polling it every few ms took CPU
      // from the process being measured; 50 ms is at most 0.3% of a run.
      await new Promise((r) => setTimeout(r, 50));
    }
    const deliverySeconds = Number(process.hrtime.bigint() - d0) / 1e9;
    await running.stop();
    running = undefined;
    const queuedCount = await countEntries(admin, `ou=queued,${suffix}`);
    if (queuedCount !== users) throw new Error(`slapd holds ${queuedCount} entries under ou=queued, expected ${users}`);

    // --- plain ldapts: the same entries under a fresh ou, same concurrency ---------------------
    const plainOu = `ou=plain,${suffix}`;
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
    const p0 = process.hrtime.bigint();
    await pool(users, concurrency, async (i) => {
      const a = adds[i]!;
      await plain.add(a.dn, Object.entries(a.attributes).map(([type, values]) => new Attribute({ type, values: values.map(String) })));
    });
    const plainSeconds = Number(process.hrtime.bigint() - p0) / 1e9;
    await plain.unbind();
    const plainCount = await countEntries(admin, plainOu);
    if (plainCount !== users) throw new Error(`slapd holds ${plainCount} entries under ${plainOu}, expected ${users}`);

    // --- intake ceiling: an express 5 app that only parses the JSON body and answers 201 -------
    // The same clients, requests and process as the SCIM phase: no SCIM service can take users in
    // faster over HTTP on this machine, so it bounds any end-to-end ratio.
    const noop = express();
    noop.use(express.json({ type: ["application/json", "application/scim+json"] }));
    noop.post("/scim/v2/Users", (req, res) => void res.status(201).json({ id: String((req.body as { userName?: string }).userName) }));
    const noopServer = await new Promise<Server>((resolve) => {
      const srv = noop.listen(0, "127.0.0.1", () => resolve(srv));
    });
    const noopHttp = httpClient(`http://127.0.0.1:${(noopServer.address() as AddressInfo).port}/scim/v2`, TOKEN, CLIENTS);
    const n0 = process.hrtime.bigint();
    await pool(users, CLIENTS, async (i) => {
      const r = await noopHttp.send("POST", "/Users", userDoc(i));
      if (r.status !== 201) throw new Error(`no-op POST: ${r.status}`);
    });
    const noopSeconds = Number(process.hrtime.bigint() - n0) / 1e9;
    noopHttp.close();
    await new Promise((r) => noopServer.close(r));

    const bridgeRate = users / e2eSeconds;
    const plainRate = users / plainSeconds;
    row(`scimbridge end to end (first POST to all ${users} in slapd)`, `${fmt(e2eSeconds)} s = ${fmt(bridgeRate, 0)} entries/s`);
    row("  SCIM side (all POSTs answered)", `${fmt(scimSeconds)} s = ${fmt(users / scimSeconds, 0)} requests/s`);
    row(`plain ldapts add, concurrency ${concurrency}`, `${fmt(plainSeconds)} s = ${fmt(plainRate, 0)} entries/s`);
    row("ratio scimbridge / plain (target >= 0.8)", fmt(bridgeRate / plainRate));
    row(`delivery only (${users} queued changes to slapd)`, `${fmt(deliverySeconds)} s = ${fmt(users / deliverySeconds, 0)} entries/s`);
    row("ratio delivery only / plain", fmt(users / deliverySeconds / plainRate));
    row(`intake ceiling: no-op express POST, ${CLIENTS} clients`, `${fmt(noopSeconds)} s = ${fmt(users / noopSeconds, 0)} requests/s`);
    row("ratio no-op HTTP intake / plain (the best any HTTP bridge could do)", fmt(users / noopSeconds / plainRate));
  } finally {
    await running?.stop().catch(() => undefined);
    await admin?.unbind().catch(() => undefined);
    await slapd?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
