/**
 * Reconciliation on a real slapd: users delivered by the real worker, drift caused directly in
 * slapd with the admin client, then reconcile (dry run, then repairing) and the CLI as a process.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Change, Attribute } from "ldapts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { user } from "../helpers/app.js";
import { ROOT, runCli, writeSlapdConfig } from "../helpers/cli.js";
import { provisioned, type Provisioned } from "../helpers/provisioned.js";
import { TEST_SECRET_KEY, testStorage } from "../helpers/test-store.js";
import { useSlapd } from "../harness/slapd.js";
import { reconcile, ruleBase, type ReconcileReport } from "../../hooks/reconcile/reconcile.js";
import { compileRules } from "../../server/provisioning.js";
import { parseConfig } from "../../server/config/load.js";
import { resourceReader } from "../../db/read-resource.js";

const ldap = useSlapd();
const PEOPLE = "ou=people,dc=example,dc=com";
const STAFF = "ou=staff,dc=example,dc=com";
const RULES = [
  { name: "people", target: "slapd", dn: `uid={userName},${PEOPLE}` },
  { name: "staff", target: "slapd", dn: `uid={userName},${STAFF}`, actions: { deprovision: { onLeaveFilter: "delete" } } },
];
const dir = mkdtempSync(join(tmpdir(), "scimbridge-reconcile-"));
const dbFile = join(dir, "scim.db");
let p: Provisioned;
const ids: Record<string, string> = {};

const stranger = (base: string) => ({
  dn: `uid=stranger,${base}`,
  attrs: { objectClass: ["inetOrgPerson"], uid: "stranger", cn: "Stranger", sn: "Danger" },
});

async function run(dryRun: boolean): Promise<ReconcileReport[]> {
  const app = p.assembled.app;
  const config = parseConfig({ storage: { file: dbFile }, targets: [{ name: "slapd", directory: "openldap", urls: [ldap.slapd.url], bindDn: "cn=x", bindPassword: "x" }], userRules: RULES }, {});
  return reconcile({ store: p.db, registry: app.registry, rules: compileRules(config, app.registry), targets: p.assembled.provisioning.targets, readResource: resourceReader(p.db, app.registry), dryRun });
}
const byRule = (reports: ReconcileReport[], name: string) => reports.find((r) => r.rule === name)!;
const changeCount = async () => (await p.sql.one<{ n: number }>("SELECT count(*) AS n FROM changes"))!.n;

beforeAll(async () => {
  await ldap.admin.add(STAFF, { objectClass: ["organizationalUnit"], ou: "staff" });
  p = await provisioned(ldap, { userRules: RULES, dbFile });
  for (const name of ["alice", "bob", "carol"]) {
    const res = await p.http.post("/scim/v2/Users").set(p.auth).send(user(name, { title: "Author" }));
    ids[name] = (res.body as { id: string }).id;
  }
  await p.settle();
  // Drift, made behind scimbridge's back.
  await ldap.admin.del(`uid=alice,${PEOPLE}`);
  await ldap.admin.modify(`uid=bob,${PEOPLE}`, new Change({ operation: "replace", modification: new Attribute({ type: "title", values: ["Hacker"] }) }));
  for (const base of [PEOPLE, STAFF]) await ldap.admin.add(stranger(base).dn, stranger(base).attrs);
});
afterAll(async () => {
  await p?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("reconcile", () => {
  it("ruleBase: the template's literal parent; a subtree when placeholders go deeper", () => {
    const app = p.assembled.app;
    const config = parseConfig(
      {
        storage: { file: dbFile },
        targets: [{ name: "slapd", directory: "openldap", urls: ["ldap://x"], bindDn: "cn=x", bindPassword: "x" }],
        userRules: [
          RULES[0],
          { name: "deep", target: "slapd", dn: "uid={userName},ou={title},dc=example,dc=com" },
        ],
      },
      {},
    );
    const [people, deep] = compileRules(config, app.registry);
    expect(ruleBase(people!)).toEqual({ base: PEOPLE, scope: "one" });
    expect(ruleBase(deep!)).toEqual({ base: "dc=example,dc=com", scope: "sub" });
  });

  it("dry run reports exactly the missing, differing and extra entries and changes nothing", async () => {
    const before = await changeCount();
    const reports = await run(true);
    const people = byRule(reports, "people");
    expect(people).toMatchObject({ expected: 3, checked: 3, repaired: 0 });
    expect(people.missing).toEqual([{ id: ids.alice, dn: `uid=alice,${PEOPLE}` }]);
    expect(people.differing).toEqual([{ id: ids.bob, dn: `uid=bob,${PEOPLE}`, attributes: [{ name: "title", expected: ["Author"], actual: ["Hacker"] }] }]);
    // Made by hand: not written by the rule, so unmanaged (with the entryUUID read in the search).
    expect(people.extra).toEqual([]);
    expect(people.unmanaged).toEqual([{ dn: `uid=stranger,${PEOPLE}`, directoryId: expect.stringMatching(/^[0-9a-f-]{36}$/) }]);
    const staff = byRule(reports, "staff");
    expect(staff).toMatchObject({ missing: [], differing: [], extra: [], unmanaged: [{ dn: `uid=stranger,${STAFF}` }], checked: 4 });
    expect(await changeCount()).toBe(before);
    expect(await ldap.search(`uid=alice,${PEOPLE}`)).toBeUndefined();
    expect((await ldap.search(`uid=bob,${PEOPLE}`))?.title).toEqual(["Hacker"]);
    expect(await ldap.search(`uid=stranger,${STAFF}`)).toBeDefined();
  });

  it("a real run queues repairs the worker delivers; an entry the rule did not write is never deleted, even under onLeaveFilter delete", async () => {
    const reports = await run(false);
    expect(byRule(reports, "people").repaired).toBe(2);
    expect(byRule(reports, "staff")).toMatchObject({ repaired: 0, extra: [], unmanaged: [{ dn: `uid=stranger,${STAFF}` }] });
    p.assembled.provisioning.worker.wake();
    await p.settle();
    expect(await ldap.search(`uid=alice,${PEOPLE}`)).toMatchObject({ uid: ["alice"], title: ["Author"], mail: ["alice@example.com"] });
    expect((await ldap.search(`uid=bob,${PEOPLE}`))?.title).toEqual(["Author"]);
    expect(await ldap.search(`uid=stranger,${PEOPLE}`)).toBeDefined();
    expect(await ldap.search(`uid=stranger,${STAFF}`)).toBeDefined();

    const again = await run(true);
    expect(byRule(again, "people")).toMatchObject({ missing: [], differing: [], extra: [], unmanaged: [{ dn: `uid=stranger,${PEOPLE}` }] });
    expect(byRule(again, "staff")).toMatchObject({ missing: [], differing: [], extra: [], unmanaged: [{ dn: `uid=stranger,${STAFF}` }] });
  });

  it("scimbridge reconcile --dry-run --json as a process on a stopped app's database", async () => {
    await p.close();
    await ldap.admin.del(`uid=carol,${STAFF}`);
    const s = ldap.slapd;
    const configFile = join(dir, "c.yaml");
    writeSlapdConfig(configFile, { dbFile, slapd: s, rules: RULES, extra: [`provisioning: { secretKey: ${TEST_SECRET_KEY} }`] });
    // On PostgreSQL the CLI opens the database the app used (the one made for dbFile).
    const storage = await testStorage(dbFile);
    if ("url" in storage) writeFileSync(configFile, readFileSync(configFile, "utf8").replace(/^storage: .*$/m, `storage: ${JSON.stringify(storage)}`));
    const r = runCli(["reconcile", "--dry-run", "--json", "--config", configFile]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(3); // drift found
    const doc = JSON.parse(r.stdout) as { dryRun: boolean; drift: boolean; rules: ReconcileReport[] };
    expect(doc).toMatchObject({ dryRun: true, drift: true });
    expect(byRule(doc.rules, "staff").missing).toEqual([{ id: ids.carol, dn: `uid=carol,${STAFF}` }]);
    expect(byRule(doc.rules, "people")).toMatchObject({ missing: [], differing: [], extra: [], unmanaged: [{ dn: `uid=stranger,${PEOPLE}` }] });

    const plain = runCli(["reconcile", "--dry-run", "--target", "slapd", "--config", configFile]);
    expect(plain.code).toBe(3);
    // stderr is a pipe here, not a terminal: no progress line, no \r or escape codes.
    expect(plain.stderr).toBe("");
    expect(plain.stdout).toContain(`rule staff (target slapd, children of ${STAFF}): 3 expected, 3 in directory; 1 missing, 0 extra, 1 unmanaged, 0 differing`);
    expect(plain.stdout).toContain(`  missing   uid=carol,${STAFF} (User/${ids.carol})`);
    expect(plain.stdout).toContain(`  unmanaged uid=stranger,${STAFF}`);
    expect(plain.stdout).toContain("2 unmanaged entries left alone (scimbridge did not write them; --delete-unmanaged deletes them)");
    expect(plain.stdout).toContain("dry run: nothing changed");
    expect(runCli(["reconcile", "--target", "nope", "--config", configFile]).code).toBe(2);

    // On a terminal (script(1) gives the process a pty) the progress line is drawn and then
    // erased before the report; with --json nothing but the JSON, even on a terminal.
    const onTty = (args: string[]) =>
      spawnSync("script", ["-qec", [process.execPath, "--import", "tsx", join(ROOT, "server", "cli.ts"), ...args].join(" "), "/dev/null"], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    const tty = onTty(["reconcile", "--dry-run", "--config", configFile]);
    expect(tty.status).toBe(3);
    // One batch of 3 users: the first update of a rule's phase is always drawn.
    expect(tty.stdout).toContain("\rreconcile: rule people 3/3 users (100%)\x1b[K");
    expect(tty.stdout).toContain("\r\x1b[K"); // erased
    expect(tty.stdout).toContain("dry run: nothing changed");
    const ttyJson = onTty(["reconcile", "--dry-run", "--json", "--config", configFile]);
    expect(ttyJson.status).toBe(3);
    expect(ttyJson.stdout).not.toContain("\x1b[");
    expect(JSON.parse(ttyJson.stdout)).toMatchObject({ dryRun: true });
  });
});
