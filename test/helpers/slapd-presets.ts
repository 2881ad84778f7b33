/**
 * One slapd serving the openldap preset and the PingDirectory profile side by side (the slapd
 * loads hooks/ldap/slapd/pingdirectory.ldif: `useSlapd({ schemas: ["pingdirectory"] })`): each
 * preset has its own target, its own OU (`ou=ol`, `ou=pd`) and a user rule taking the users whose
 * userName starts with that OU and a dash, so one SCIM user has one entry.
 */
import { Attribute } from "ldapts";
import type { TestSlapd } from "../harness/slapd.js";

export const SUFFIX = "dc=example,dc=com";

export const SLAPD_PRESETS = [
  { preset: "openldap", ou: "ol", objectClasses: undefined },
  // scimbridgeTestPingAccount lets slapd hold ds-pwp-account-disabled (hooks/ldap/slapd/pingdirectory.ldif).
  { preset: "pingdirectory", ou: "pd", objectClasses: ["top", "person", "organizationalPerson", "inetOrgPerson", "scimbridgeTestPingAccount"] },
] as const;

/** Adds the organizational units below SUFFIX. */
export async function addOus(ldap: TestSlapd, names: string[]): Promise<void> {
  for (const ou of names) {
    await ldap.admin.add(`ou=${ou},${SUFFIX}`, [new Attribute({ type: "objectClass", values: ["organizationalUnit"] }), new Attribute({ type: "ou", values: [ou] })]);
  }
}

/** The targets (one per preset, named after it) and user rules for provisioned(). */
export function presetTargetsAndRules(ldap: TestSlapd): { targets: Record<string, unknown>[]; userRules: Record<string, unknown>[] } {
  const target = (name: string) => ({ name, directory: name, urls: [ldap.slapd.url], bindDn: ldap.slapd.rootDn, bindPassword: ldap.slapd.rootPassword, concurrency: 4, timeoutMs: 3000, connectTimeoutMs: 1000 });
  return {
    targets: SLAPD_PRESETS.map((x) => target(x.preset)),
    userRules: SLAPD_PRESETS.map((x) => ({
      name: x.preset,
      target: x.preset,
      dn: `uid={userName},ou=${x.ou},${SUFFIX}`,
      // userName sw compares case-insensitively (caseExact false): a case-only rename stays in.
      filter: `userName sw "${x.ou}-"`,
      ...(x.objectClasses ? { objectClasses: x.objectClasses } : {}),
    })),
  };
}
