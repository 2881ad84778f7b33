/**
 * Reconcile deletes only what a rule wrote, on a real slapd: two rules writing under one base
 * (ou=people), hand-made entries beside them, and a rule removed (onRuleRemoved none) and added
 * again. Only the re-added rule's own leftover is deprovisioned, through the outbox and the
 * worker (audited); everything else is reported as unmanaged. Then the account state (a lock
 * removed by hand is put back), the CLI's --delete-unmanaged (refused on a terminal without
 * --yes), its exit codes, its error text, and its bind to the embedded default's slapd.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Attribute, Change } from "ldapts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../db/open.js";
import { hasDrift, reconcile, type ReconcileReport } from "../../hooks/reconcile/reconcile.js";
import { parseConfig } from "../../server/config/load.js";
import { compileRules, startEmbeddedDirectory } from "../../server/provisioning.js";
import { resourceReader } from "../../db/read-resource.js";
import { user } from "../helpers/app.js";
import { ROOT, runCli, writeSlapdConfig } from "../helpers/cli.js";
import { provisioned, type Provisioned } from "../helpers/provisioned.js";
import { canBind, useSlapd } from "../harness/slapd.js";

const ldap = useSlapd();
const PEOPLE = "ou=people,dc=example,dc=com";
const A = { name: "a", target: "slapd", dn: `uid={userName},${PEOPLE}`, filter: 'title eq "A"', actions: { deprovision: { onDelete: "delete", onLeaveFilter: "delete", onRuleRemoved: "none" } } };
const B = { name: "b", target: "slapd", dn: `uid={userName},${PEOPLE}`, filter: 'title eq "B"' };
const dir = mkdtempSync(join(tmpdir(), "scimbridge-ownership-"));
const dbFile = join(dir, "scim.db");
const SECRET = `provisioning: { secretKey: ${Buffer.alloc(32, 7).toString("base64")} }`;
let p: Provisioned;
const ids: Record<string, string> = {};
const dn = (uid: string) => `uid=${uid},${PEOPLE}`;
const handMade = (uid: string) => [new Attribute({ type: "objectClass", values: ["inetOrgPerson"] }), new Attribute({ type: "uid", values: [uid] }), new Attribute({ type: "cn", values: [uid] }), new Attribute({ type: "sn", values: ["Hand"] })];
const uuidOf = async (uid: string) => (await ldap.search(dn(uid), ["entryUUID"]))?.entryuuid?.[0];
const byRule = (reports: ReconcileReport[], name: string) => reports.find((r) => r.rule === name)!;
const sorted = <T extends { dn: string }>(xs: T[]) => [...xs].sort((x, y) => x.dn.localeCompare(y.dn));

async function run(dryRun: boolean): Promise<ReconcileReport[]> {
  const app = p.assembled.app;
  const config = parseConfig({ storage: { file: dbFile }, targets: [{ name: "slapd", directory: "openldap", urls: [ldap.slapd.url], bindDn: "cn=x", bindPassword: "x" }], userRules: [A, B] }, {});
  return reconcile({ store: p.store, rules: compileRules(config, app.registry), targets: p.assembled.provisioning.targets, readResource: resourceReader(p.store, app.registry), dryRun });
}

beforeAll(async () => {
  // Both rules deliver; a service account is made by hand under the same base.
  p = await provisioned(ldap, { userRules: [A, B], dbFile });
  for (const [name, title] of [["a1", "A"], ["a2", "A"], ["a3", "A"], ["b1", "B"]] as const) {
    ids[name] = (await p.http.post("/scim/v2/Users").set(p.auth).send(user(name, { title }))).body.id as string;
  }
  await p.settle();
  await ldap.admin.add(dn("svc-backup"), handMade("svc-backup"));
  await p.close();
}, 60_000);
afterAll(async () => {
  await p?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("reconcile deletes only what a rule wrote", () => {
  it("a rule removed with onRuleRemoved none leaves its entries, each with a tombstone (DN and entryUUID)", async () => {
    p = await provisioned(ldap, { userRules: [B], dbFile });
    await p.settle();
    const tombstones = p.store.sqlite.prepare("SELECT rule, dn, directory_id AS id, resource_id AS resourceId FROM entry_tombstones ORDER BY dn").all();
    expect(tombstones).toEqual(await Promise.all(["a1", "a2", "a3"].map(async (u) => ({ rule: "a", dn: dn(u), id: await uuidOf(u), resourceId: ids[u] }))));
    // a1 and a3 leave SCIM while rule a is gone; a3's entry is then replaced by a hand-made one
    // at the same DN (a new entryUUID): not the entry rule a wrote.
    for (const u of ["a1", "a3"]) expect((await p.http.delete(`/scim/v2/Users/${ids[u]}`).set(p.auth)).status).toBe(204);
    await p.settle();
    await ldap.admin.del(dn("a3"));
    await ldap.admin.add(dn("a3"), handMade("a3"));
    await p.close();
    p = await provisioned(ldap, { userRules: [A, B], dbFile }); // rule a is back
    await p.settle();
  });

  it("dry run: the rule's own leftover is extra; the other rule's and hand-made entries are unmanaged", async () => {
    const reports = await run(true);
    const a = byRule(reports, "a");
    expect(a).toMatchObject({ missing: [], differing: [], repaired: 0 });
    expect(a.extra).toEqual([{ dn: dn("a1"), resourceType: "User", resourceId: ids.a1, provenance: "tombstone", directoryId: await uuidOf("a1") }]);
    expect(sorted(a.unmanaged).map((x) => [x.dn, x.owner])).toEqual([
      [dn("a3"), undefined], // same DN as a1-era a3, another entryUUID: not a's
      [dn("b1"), "b"],
      [dn("svc-backup"), undefined],
    ]);
    const b = byRule(reports, "b");
    expect(b.extra).toEqual([]);
    expect(sorted(b.unmanaged).map((x) => [x.dn, x.owner])).toEqual([
      [dn("a1"), "a"],
      [dn("a2"), "a"],
      [dn("a3"), undefined],
      [dn("svc-backup"), undefined],
    ]);
    expect(hasDrift(a)).toBe(true); // the leftover
    expect(hasDrift(b)).toBe(false); // unmanaged entries alone are not drift
    expect(hasDrift(b, true)).toBe(true); // ...unless they are to be deleted
  });

  it("repair deprovisions the leftover with the rule's action through the outbox and the worker; the rest stays", async () => {
    const reports = await run(false);
    expect(byRule(reports, "a")).toMatchObject({ repaired: 1, extra: [{ dn: dn("a1"), queued: true }] });
    expect(byRule(reports, "b").repaired).toBe(0);
    // In the outbox, as reconcile's change; then the worker deletes it (rule a's onDelete) and the
    // audit log has the LDAP delete.
    expect(p.store.sqlite.prepare("SELECT resource_type AS type, resource_id AS id, op FROM changes WHERE client = 'reconcile'").all()).toEqual([{ type: "User", id: ids.a1, op: "resync" }]);
    p.assembled.provisioning.worker.wake();
    await p.settle();
    expect(await ldap.search(dn("a1"))).toBeUndefined();
    for (const u of ["a2", "a3", "b1", "svc-backup"]) expect(await ldap.search(dn(u))).toBeDefined();
    expect(p.store.sqlite.prepare("SELECT client, resource_type AS type, resource_id AS id, dn, outcome FROM audit_log WHERE kind = 'ldap' AND operation = 'delete'").all()).toEqual([
      { client: "rule:a", type: "User", id: ids.a1, dn: dn("a1"), outcome: "success" },
    ]);
    const again = await run(true);
    expect(byRule(again, "a").extra).toEqual([]);
    expect(again.some((r) => hasDrift(r))).toBe(false);
  });

  it("account state: a disabled user whose lock was removed by hand differs, and repair locks it again", async () => {
    const password = "Lock-Me-0ut!";
    ids.lk = (await p.http.post("/scim/v2/Users").set(p.auth).send(user("lk", { title: "A", password, active: false }))).body.id as string;
    await p.settle();
    expect(await canBind(ldap.slapd.url, dn("lk"), password)).toBe(false);
    await ldap.admin.modify(dn("lk"), new Change({ operation: "delete", modification: new Attribute({ type: "pwdAccountLockedTime", values: [] }) }));
    expect(await canBind(ldap.slapd.url, dn("lk"), password)).toBe(true);

    const dry = byRule(await run(true), "a");
    expect(dry.differing).toEqual([{ id: ids.lk, dn: dn("lk"), attributes: [{ name: "pwdAccountLockedTime", expected: ["disabled"], actual: ["enabled"], account: "disable" }] }]);
    expect(byRule(await run(false), "a").repaired).toBe(1);
    p.assembled.provisioning.worker.wake();
    await p.settle();
    expect(await canBind(ldap.slapd.url, dn("lk"), password)).toBe(false);
    expect(byRule(await run(true), "a").differing).toEqual([]);
  });

  it("CLI: exit codes, --delete-unmanaged refused on a terminal without --yes, then queued for the worker", async () => {
    await p.close();
    const configFile = join(dir, "c.yaml");
    writeSlapdConfig(configFile, { dbFile, slapd: ldap.slapd, rules: [A, B], extra: [SECRET] });
    const changeCount = async () => {
      const store = openStore(dbFile);
      try {
        return (store.sqlite.prepare("SELECT count(*) AS n FROM changes").get() as { n: number }).n;
      } finally {
        await store.close();
      }
    };

    expect(runCli(["reconcile", "--dry-run", "--config", configFile]).code).toBe(0); // unmanaged only: no drift
    const asked = runCli(["reconcile", "--dry-run", "--delete-unmanaged", "--json", "--config", configFile]);
    expect(asked.code).toBe(3);
    const doc = JSON.parse(asked.stdout) as { drift: boolean; rules: ReconcileReport[] };
    expect(doc.drift).toBe(true);

    // script(1) gives the process a terminal on stdin.
    const onTty = (args: string[]) =>
      spawnSync("script", ["-qec", [process.execPath, "--import", "tsx", join(ROOT, "server", "cli.ts"), ...args].join(" "), "/dev/null"], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    const before = await changeCount();
    const refused = onTty(["reconcile", "--delete-unmanaged", "--config", configFile]);
    expect(refused.status).toBe(2);
    expect(refused.stdout).toContain("refusing --delete-unmanaged without --yes");
    expect(await changeCount()).toBe(before);

    const confirmed = onTty(["reconcile", "--delete-unmanaged", "--yes", "--config", configFile]);
    expect(confirmed.status).toBe(3);
    expect(confirmed.stdout).toContain(`  unmanaged ${dn("svc-backup")} (delete queued)`);
    expect(confirmed.stdout).toContain(`  unmanaged ${dn("b1")} (written by rule b)`);
    // One Entry row per entry no rule wrote (the two rules found each), none for another rule's entries.
    p = await provisioned(ldap, { userRules: [A, B], dbFile });
    expect(p.store.sqlite.prepare("SELECT resource_id AS dn FROM sync_state WHERE resource_type = 'Entry' ORDER BY resource_id").all()).toEqual([{ dn: dn("a3") }, { dn: dn("svc-backup") }]);
    await p.settle();
    expect(await ldap.search(dn("svc-backup"))).toBeUndefined();
    expect(await ldap.search(dn("a3"))).toBeUndefined();
    for (const u of ["a2", "b1", "lk"]) expect(await ldap.search(dn(u))).toBeDefined();
    const audited = p.store.sqlite.prepare("SELECT resource_type AS type, dn FROM audit_log WHERE kind = 'ldap' AND operation = 'delete' AND resource_type = 'Entry' ORDER BY dn").all();
    expect(audited).toEqual([{ type: "Entry", dn: dn("a3") }, { type: "Entry", dn: dn("svc-backup") }]);
    expect(p.store.sqlite.prepare("SELECT count(*) AS n FROM changes WHERE resource_type = 'Entry' AND client = 'reconcile'").get()).toEqual({ n: 2 });
    await p.close();
    expect(runCli(["reconcile", "--dry-run", "--delete-unmanaged", "--config", configFile]).code).toBe(0); // b's entries are not unmanaged-deletable

    // A target that refuses the bind: exit 1, with the result's name and the server's words.
    const wrong = join(dir, "wrong.yaml");
    writeSlapdConfig(wrong, { dbFile, slapd: { ...ldap.slapd, rootPassword: "not-the-password" }, rules: [A], extra: [SECRET] });
    const failed = runCli(["reconcile", "--dry-run", "--config", wrong]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/rule a \(target slapd\): directory search under ou=people,dc=example,dc=com failed: LDAP target slapd: cannot connect and bind: 49 invalidCredentials: /);
    expect(failed.stdout).not.toContain("Code: 0x");
    expect(runCli(["reconcile", "--target", "nope", "--config", configFile]).code).toBe(2);
  }, 120_000);

  it("CLI reconcile binds to the embedded default's slapd with the credentials serve uses", async () => {
    const home = join(dir, "embedded");
    const config = parseConfig({ storage: { file: join(home, "db.sqlite") }, embeddedDirectory: { enabled: true, dir: join(home, "slapd"), port: 0 } }, {});
    const { slapd } = await startEmbeddedDirectory(config);
    try {
      await openStore(config.storage.file).close();
      const file = join(home, "c.yaml");
      writeFileSync(file, `storage: { file: ${config.storage.file} }\nembeddedDirectory: { enabled: true, dir: ${join(home, "slapd")}, port: ${slapd.port} }\n`);
      const r = runCli(["reconcile", "--dry-run", "--json", "--config", file]);
      expect(r.stderr).toBe("");
      const doc = JSON.parse(r.stdout) as { rules: ReconcileReport[] };
      expect(doc.rules.map((x) => [x.rule, x.error])).toEqual([
        ["embedded-users", undefined],
        ["embedded-groups", undefined],
      ]);
      expect(r.code).toBe(0);
    } finally {
      await slapd.stop();
    }
  }, 60_000);
});
