/**
 * Rule and entry lifecycle on a real slapd: moves between OUs, deprovisioning when a rule is
 * removed from the config, and permanent failures recorded with the LDAP result code.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Attribute } from "ldapts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PATCH_OP, user } from "../helpers/app.js";
import { provisioned, type Provisioned } from "../helpers/provisioned.js";
import { useSlapd } from "../harness/slapd.js";

const ldap = useSlapd();
const dir = mkdtempSync(join(tmpdir(), "scimbridge-lifecycle-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  for (const ou of ["eng", "ops"]) {
    await ldap.admin.add(`ou=${ou},dc=example,dc=com`, [new Attribute({ type: "objectClass", values: ["organizationalUnit"] }), new Attribute({ type: "ou", values: [ou] })]);
  }
});

const state = (p: Provisioned, id: string, rule: string) =>
  p.sql.one<{ state: string; attempts: number; last_code: number | null; last_error: string | null; last_attempt: string }>(
    "SELECT state, attempts, last_code, last_error, last_attempt FROM sync_state WHERE resource_id = ? AND rule = ?",
    [id, rule],
  );

describe("entry lifecycle", () => {
  it("moves an entry between OUs when the DN template's result changes (modifyDN with newSuperior)", async () => {
    const p = await provisioned(ldap, { userRules: [{ name: "by-team", target: "slapd", dn: "uid={userName},ou={title},dc=example,dc=com" }] });
    try {
      const id = (await p.http.post("/scim/v2/Users").set(p.auth).send(user("mover", { title: "eng" }))).body.id;
      await p.settle();
      const before = await ldap.search("uid=mover,ou=eng,dc=example,dc=com", ["entryUUID"]);
      expect(before).toBeDefined();
      await p.http.patch(`/scim/v2/Users/${id}`).set(p.auth).send({ schemas: [PATCH_OP], Operations: [{ op: "replace", path: "title", value: "ops" }] });
      await p.settle();
      expect(await ldap.search("uid=mover,ou=eng,dc=example,dc=com")).toBeUndefined();
      const after = await ldap.search("uid=mover,ou=ops,dc=example,dc=com", ["entryUUID"]);
      expect(after?.entryuuid).toEqual(before?.entryuuid); // the same entry, moved
    } finally {
      await p.close();
    }
  });

  it("deprovisions a rule's entries when the rule is removed from the config (onRuleRemoved); on PostgreSQL leaves them for the operator", async () => {
    const dbFile = join(dir, "rules.db");
    const keep = { name: "keep", target: "slapd", dn: "uid={userName},ou=people,dc=example,dc=com" };
    const drop = { name: "drop", target: "slapd", dn: "uid={userName},ou=groups,dc=example,dc=com", actions: { deprovision: { onRuleRemoved: "delete" } } };
    const first = await provisioned(ldap, { userRules: [keep, drop], dbFile });
    await first.http.post("/scim/v2/Users").set(first.auth).send(user("ruled"));
    await first.settle();
    await first.close();
    expect(await ldap.search("uid=ruled,ou=groups,dc=example,dc=com")).toBeDefined();

    const second = await provisioned(ldap, { userRules: [keep], dbFile });
    try {
      await second.settle();
      // Replicas share the database: a replica still on an older config would take a newer rule
      // for a removed one, so on PostgreSQL no rule is deprovisioned at start (docs/deployment-replicas.md).
      const kept = second.engine === "postgres";
      expect(await ldap.search("uid=ruled,ou=groups,dc=example,dc=com")).toEqual(kept ? expect.anything() : undefined);
      expect(await ldap.search("uid=ruled,ou=people,dc=example,dc=com")).toBeDefined();
      expect(await second.sql.rows("SELECT name FROM known_rules ORDER BY name")).toEqual(kept ? [{ name: "drop" }, { name: "keep" }] : [{ name: "keep" }]);
    } finally {
      await second.close();
    }
  });

  it("records a permanent failure with the LDAP result code, parks it after maxAttempts, and retries on the next change", async () => {
    const p = await provisioned(ldap, {
      // uidNumber belongs to posixAccount, not inetOrgPerson: slapd answers 65 objectClassViolation.
      userRules: [{ name: "broken", target: "slapd", dn: "uid={userName},ou=people,dc=example,dc=com", attributes: { uidNumber: "nickName" } }],
      provisioning: { maxAttempts: 2 },
    });
    try {
      const id = (await p.http.post("/scim/v2/Users").set(p.auth).send(user("failing", { nickName: "1000" }))).body.id;
      await p.settle();
      const parked = (await state(p, id, "broken"))!;
      expect(parked.state).toBe("failed");
      expect(parked.attempts).toBe(2);
      expect(parked.last_code).toBe(65);
      expect(parked.last_error).toBeTruthy();
      expect(await ldap.search("uid=failing,ou=people,dc=example,dc=com")).toBeUndefined();

      await p.http.patch(`/scim/v2/Users/${id}`).set(p.auth).send({ schemas: [PATCH_OP], Operations: [{ op: "remove", path: "nickName" }] });
      await p.settle();
      expect((await state(p, id, "broken"))?.state).toBe("in_sync");
      expect(await ldap.search("uid=failing,ou=people,dc=example,dc=com")).toBeDefined();
    } finally {
      await p.close();
    }
  });
});
