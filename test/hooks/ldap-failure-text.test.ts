/**
 * Every LDAP failure is shown with the result code's name, the server's diagnostic message and,
 * where known, a hint (hooks/ldap/errors.ts describeLdapFailure), never ldapts's bare
 * "Code: 0x50". The case: a 5,000-character userName let through by a raised
 * scim.limits.attributeLength.userName reaches slapd, which refuses the RDN.
 */
import { UnknownStatusCodeError } from "ldapts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeLdapFailure } from "../../hooks/ldap/errors.js";
import { user } from "../helpers/app.js";
import { provisioned, type Provisioned } from "../helpers/provisioned.js";
import { useSlapd } from "../harness/slapd.js";

const ldap = useSlapd();
let p: Provisioned;
beforeAll(async () => {
  p = await provisioned(ldap, {
    userRules: [{ name: "people", target: "slapd", dn: "uid={userName},ou=people,dc=example,dc=com" }],
    scim: { limits: { attributeLength: { userName: 6000 } } },
    provisioning: { maxAttempts: 1 },
  });
});
afterAll(async () => p?.close());

describe("LDAP failures as people read them", () => {
  it("describeLdapFailure: code, name, diagnostic and hint", () => {
    expect(describeLdapFailure(new UnknownStatusCodeError(80, "value too long"))).toBe(
      "80 other: value too long (hint: OpenLDAP answers 'other' for a value or DN over its internal size limits (a very long RDN) and AD for values it rejects: check the length and content of the values written)",
    );
    expect(describeLdapFailure(new Error("connect ECONNREFUSED 127.0.0.1:1"))).toBe("connect ECONNREFUSED 127.0.0.1:1");
  });

  it("a delivery slapd refuses is stored and shown with the result's name, never 'Code: 0x..'", async () => {
    const res = await p.http.post("/scim/v2/Users").set(p.auth).send(user("u".repeat(5000), { emails: [{ value: "long@example.com" }] }));
    expect(res.status).toBe(201);
    await p.settle(20_000);
    const row = (await p.sql.one<{ state: string; lastError: string; lastCode: number }>(`SELECT state, last_error AS "lastError", last_code AS "lastCode" FROM sync_state`))!;
    expect(row.state).toBe("failed");
    expect(row.lastError).not.toMatch(/^Code: 0x|^\s*Code: 0x/);
    expect(row.lastError).toMatch(new RegExp(`^${row.lastCode} \\w+: `));
    const audit = (await p.sql.one<{ detail: string }>("SELECT detail FROM audit_log WHERE kind = 'ldap' AND outcome = 'error'"))!;
    expect(audit.detail).toContain(row.lastError.slice(0, 40));
  });
});
