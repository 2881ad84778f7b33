/**
 * Issue 6 figures: a dry-run reconcile of N users (default 100,000; BENCH_RECONCILE_USERS) seeded
 * in SQLite and, as the entries the rule maps them to, loaded offline into a fresh slapd with
 * slapadd (extraLdif). Reports the reconcile's wall time (target < 60 s) and the process's peak RSS
 * sampled every 100 ms during it. Three entries are drifted so the run has something to find.
 * Resources are read from the store, as reconcile itself reads them.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../db/open.js";
import { resourceReader } from "../db/read-resource.js";
import { startSlapd } from "../hooks/ldap/slapd.js";
import { mapUser } from "../hooks/rules/mapping.js";
import { SchemaRegistry } from "../schemas/registry.js";
import { parseConfig } from "../server/config/load.js";
import { compileRules, connectTargets } from "../server/provisioning.js";
import { reconcileWith } from "../server/reconcile.js";
import { fmt, row } from "./lib.js";

const SUFFIX = "dc=example,dc=com";

export async function benchReconcile(users = 100_000): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "scimbridge-bench-reconcile-"));
  try {
    const file = join(dir, "bench.db");
    const t0 = Date.now();
    const store = openStore(file);
    await store.transaction(async ({ resources }) => {
      const at = new Date().toISOString();
      for (let i = 0; i < users; i++) {
        await resources.insert("User", {
          id: randomUUID(),
          created: at,
          lastModified: at,
          version: 1,
          attributes: {
            userName: `user${i}`,
            name: { givenName: `Given${i}`, familyName: `Family${i}` },
            displayName: `User ${i}`,
            title: "Engineer",
            emails: [{ value: `user${i}@example.com`, type: "work", primary: true }],
            active: true,
          },
        });
      }
    });
    const rootPassword = "bench-root-password";
    const doc = (url: string) =>
      parseConfig(
        {
          storage: { file },
          logging: { level: "silent" },
          targets: [{ name: "slapd", directory: "openldap", urls: [url], bindDn: `cn=admin,${SUFFIX}`, bindPassword: rootPassword, timeoutMs: 30_000 }],
          userRules: [{ name: "people", target: "slapd", dn: `uid={userName},ou=people,${SUFFIX}` }],
        },
        {},
      );
    // The LDIF is the rule's own mapping of each user, so a clean run finds no drift.
    const seeded = doc("ldap://127.0.0.1:1");
    const registry = new SchemaRegistry(seeded.scim.extensions);
    const [rule] = compileRules(seeded, registry);
    const read = resourceReader(store, registry);
    const chunks: string[] = [];
    for await (const page of store.scan.pages("User", 1000)) for (const id of page) {
      const mapped = await mapUser(rule!, (await read("User", id))!);
      const lines = [`dn: ${mapped.dn}`, ...rule!.objectClasses.map((c) => `objectClass: ${c}`)];
      for (const [name, values] of Object.entries(mapped.attributes)) for (const v of values) lines.push(`${name}: ${v}`);
      chunks.push(lines.join("\n") + "\n");
    }
    // Drift: one missing (dropped from the LDIF), one differing, one extra.
    chunks.splice(0, 1);
    chunks[0] = chunks[0]!.replace("title: Engineer", "title: Drifted");
    chunks.push(`dn: uid=stranger,ou=people,${SUFFIX}\nobjectClass: inetOrgPerson\nuid: stranger\ncn: Stranger\nsn: Danger\n`);
    const slapd = await startSlapd({ suffix: SUFFIX, rootPassword, extraLdif: chunks.join("\n"), readyTimeoutMs: 30_000 });
    chunks.length = 0;
    console.log(`\nReconcile: ${users.toLocaleString("en")} users seeded in SQLite and slapd in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    const config = doc(slapd.url);
    const targets = connectTargets(config.targets);
    try {
      global.gc?.();
      const rssBefore = process.memoryUsage().rss;
      let peak = rssBefore;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
      const started = performance.now();
      const [report] = await reconcileWith({ config, store, targets, dryRun: true, onProgress: () => (peak = Math.max(peak, process.memoryUsage().rss)) });
      const seconds = (performance.now() - started) / 1000;
      clearInterval(sampler);
      peak = Math.max(peak, process.memoryUsage().rss);
      if (!report || report.error) throw new Error(`reconcile failed: ${report?.error ?? "no report"}`);
      row("users expected / directory entries checked", `${report.expected} / ${report.checked}`);
      // The stranger is no rule's entry: unmanaged, not extra (hooks/delivery/entry-ownership.ts).
      row("drift found: missing / differing / unmanaged (seeded 1 / 1 / 1)", `${report.missing.length} / ${report.differing.length} / ${report.unmanaged.length}`);
      row("reconcile dry run (target < 60 s)", `${fmt(seconds, 1)} s`);
      row("peak RSS during it (sampled every 100 ms)", `${fmt(peak / 2 ** 20, 0)} MiB (${fmt(rssBefore / 2 ** 20, 0)} MiB before)`);
    } finally {
      await Promise.allSettled([...targets.values()].map((t) => t.connection.close()));
      await slapd.stop();
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
