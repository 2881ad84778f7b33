/**
 * `scimbridge status | failures | retry | resync` as processes, on a database left by a stopped
 * server (the app, worker and a real slapd fill it first), then picked up by a restarted one.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { user } from "../helpers/app.js";
import { runCli, writeSlapdConfig } from "../helpers/cli.js";
import { provisioned } from "../helpers/provisioned.js";
import { useSlapd } from "../harness/slapd.js";

const ldap = useSlapd();
const dir = mkdtempSync(join(tmpdir(), "scimbridge-status-cli-"));
const dbFile = join(dir, "scim.db");
const configFile = join(dir, "c.yaml");
const RULES = [
  { name: "people", target: "slapd", dn: "uid={userName},ou=people,dc=example,dc=com" },
  // uidNumber is not allowed by inetOrgPerson: slapd answers 65 objectClassViolation.
  { name: "broken", target: "slapd", dn: "uid={userName},ou=groups,dc=example,dc=com", attributes: { uidNumber: "nickName" } },
];
const ids = { alice: "", bob: "" };
const cli = (...args: string[]) => runCli([...args, "--config", configFile]);
const row = (id: string, rule: string) => {
  const db = new Database(dbFile, { readonly: true });
  try {
    return db.prepare("SELECT state, attempts, next_attempt FROM sync_state WHERE resource_id = ? AND rule = ?").get(id, rule) as { state: string; attempts: number; next_attempt: string | null };
  } finally {
    db.close();
  }
};

beforeAll(async () => {
  const p = await provisioned(ldap, { userRules: RULES, dbFile, provisioning: { maxAttempts: 2 } });
  try {
    for (const [name, extra] of [
      ["alice", {}],
      ["bob", { nickName: "1000" }],
    ] as const) {
      ids[name] = ((await p.http.post("/scim/v2/Users").set(p.auth).send(user(name, extra))).body as { id: string }).id;
    }
    await p.settle();
  } finally {
    await p.close();
  }
  const s = ldap.slapd;
  writeSlapdConfig(configFile, { dbFile, slapd: s, rules: RULES });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("scimbridge status / failures / retry / resync", () => {
  it("status --json: counts per target and rule; plain output one line per target and rule", () => {
    const r = cli("status", "--json");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      targets: [
        {
          name: "slapd",
          counts: { in_sync: 3, pending: 0, retrying: 0, failed: 1, out_of_scope: 0, needs_password: 0 },
          rules: [
            { name: "people", configured: true, counts: { in_sync: 2, pending: 0, retrying: 0, failed: 0, out_of_scope: 0, needs_password: 0 } },
            { name: "broken", configured: true, counts: { in_sync: 1, pending: 0, retrying: 0, failed: 1, out_of_scope: 0, needs_password: 0 } },
          ],
        },
      ],
    });
    const plain = cli("status");
    expect(plain.stdout).toContain("target slapd: in_sync 3, pending 0, retrying 0, failed 1, out_of_scope 0, needs_password 0");
    expect(plain.stdout).toContain("  rule broken: in_sync 1, pending 0, retrying 0, failed 1, out_of_scope 0, needs_password 0");
  });

  it("failures --json with filters; plain output shows the LDAP code and message", () => {
    const r = cli("failures", "--json");
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { totalResults: number; failures: Record<string, unknown>[] };
    expect(doc.totalResults).toBe(1);
    expect(doc.failures[0]).toMatchObject({ type: "User", id: ids.bob, rule: "broken", target: "slapd", state: "failed", attempts: 2, lastCode: 65, lastError: expect.any(String) });
    expect((JSON.parse(cli("failures", "--json", "--rule", "people").stdout) as { totalResults: number }).totalResults).toBe(0);
    expect((JSON.parse(cli("failures", "--json", "--target", "slapd", "--rule", "broken").stdout) as { totalResults: number }).totalResults).toBe(1);
    const plain = cli("failures");
    expect(plain.stdout).toContain(`User/${ids.bob} rule broken (target slapd): failed, 2 attempts, LDAP 65`);
    expect(plain.stdout).toContain("1 failing delivery");
  });

  it("usage errors exit 2 without touching the database", () => {
    for (const args of [["retry"], ["retry", "--all", `User/${ids.bob}`], ["resync"], ["resync", "nonsense"], ["retry", "Widget/1"]]) {
      const r = cli(...args);
      expect(r.code, args.join(" ")).toBe(2);
    }
    expect(cli("resync", "User/no-such-id").code).toBe(1);
  });

  it("retry --all sets failed rows back to pending; resync User/<id> queues an outbox change", () => {
    const r = cli("retry", "--all", "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ retried: 1 });
    expect(row(ids.bob, "broken")).toEqual({ state: "pending", attempts: 0, next_attempt: null });
    expect(cli("retry", `User/${ids.bob}`).stdout).toContain("0 deliveries set back to pending");

    const s = cli("resync", `User/${ids.alice}`, "--json");
    expect(s.code).toBe(0);
    const { change } = JSON.parse(s.stdout) as { change: number };
    const db = new Database(dbFile, { readonly: true });
    try {
      expect(db.prepare("SELECT resource_id, op, client FROM changes WHERE seq = ?").get(change)).toEqual({ resource_id: ids.alice, op: "resync", client: "cli" });
    } finally {
      db.close();
    }
    expect(cli("resync", `Users/${ids.alice}`).stdout).toMatch(/queued for resync/);
  });

  it("a server started on the file picks up what the CLI queued", async () => {
    const p = await provisioned(ldap, { userRules: RULES, dbFile, provisioning: { maxAttempts: 2 } });
    try {
      await p.settle();
      expect(row(ids.alice, "people").state).toBe("in_sync");
      expect(row(ids.alice, "broken").state).toBe("in_sync");
      // Still broken for bob: the retry ran its attempts again and parked it.
      expect(row(ids.bob, "broken")).toMatchObject({ state: "failed", attempts: 2 });
    } finally {
      await p.close();
    }
  });
});
