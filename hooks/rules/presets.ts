/**
 * Presets: per directory product, the default object classes, attribute mappings (PingOne's LDAP
 * gateway tables "Active Directory attributes" and "PingDirectory attributes",
 * https://docs.pingidentity.com/pingone/integrations/p1_create_provisioning_connection_gateway.html)
 * and how account state and passwords are written. A rule overrides any mapping or removes it with
 * `null`; account state and passwords are owned here.
 */
import type { AttributeMapping, PresetName } from "./config.js";
import type { LdapOp, LdapValue } from "../planning/ops.js";

export interface Preset {
  name: PresetName;
  /** Object classes of a new entry (structural chain first). */
  objectClasses: readonly string[];
  /** RDN part of the usual DN template; a rule writes `${rdnTemplate},<its base DN>`. */
  rdnTemplate: string;
  attributes: Readonly<Record<string, AttributeMapping>>;
  /** Attributes the directory requires on a user; an entry mapped without them is a planning error. */
  required: readonly string[];
  /**
   * Attributes that take one value: mapping keeps the first (primary first). Per target, since
   * `mail` is single-valued in AD but not in inetOrgPerson (ldap-targets.md §5.3).
   */
  singleValued: readonly string[];
  /** Passwords need an encrypted connection: the planner refuses to send them otherwise. */
  passwordNeedsTls: boolean;
  /** Enabling an entry that never got a password fails (AD password policy), so wait for one. */
  enableNeedsPassword: boolean;
  /**
   * Account state and password carried by the add itself, and the ops to run right after it.
   * `active` is what the entry will be once they ran.
   */
  create(input: { dn: string; active: boolean; password?: string; mustChange: boolean }): {
    attributes: Record<string, LdapValue[]>;
    after: LdapOp[];
    active: boolean;
  };
  disable(dn: string): LdapOp[];
  enable(dn: string): LdapOp[];
  /**
   * The read side of disable/enable, for reconcile: the attributes holding the account state (read
   * by name: they are operational on OpenLDAP and PingDirectory), and whether an entry read with
   * them (lower-cased keys, as normalizeEntry gives) is disabled.
   */
  stateAttributes: readonly string[];
  isDisabled(entry: Record<string, string[]>): boolean;
  setPassword(dn: string, password: string): LdapOp[];
  /** Marks the password as must-change; runs after setPassword (a password set clears the mark). */
  mustChange(dn: string): LdapOp[];
  /** A directory-specific problem with the mapped attributes, or undefined. */
  validate(attributes: Record<string, string[]>): string | undefined;
}

const replace = (dn: string, attribute: string, values: LdapValue[]): LdapOp => ({
  kind: "modify",
  dn,
  changes: [{ operation: "replace", attribute, values }],
});

const get = (attrs: Record<string, string[]>, name: string): string[] =>
  Object.entries(attrs).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1] ?? [];

function checkRequired(preset: string, required: readonly string[], attrs: Record<string, string[]>): string | undefined {
  const missing = required.filter((r) => get(attrs, r).length === 0);
  return missing.length ? `${preset} requires ${missing.join(", ")} but the mapping produced no value` : undefined;
}

const WORK_ADDRESS = 'addresses[type eq "work"]';
const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/**
 * sn is MUST in inetOrgPerson's `person` superclass (RFC 4519 §3.12) and required by PingOne's
 * PingDirectory table, but Okta and Entra users often have no family name: fall back to userName
 * so the entry still lands.
 */
const SN_WITH_FALLBACK: AttributeMapping = { expr: "name.familyName ? name.familyName : userName" };

// ---------------------------------------------------------------------------------------------
// Active Directory: https://learn.microsoft.com/en-us/windows/desktop/AD/creating-a-user
// ---------------------------------------------------------------------------------------------

const UF_ACCOUNTDISABLE = 0x2;
const UF_NORMAL_ACCOUNT = 0x200;
// https://learn.microsoft.com/en-us/windows/win32/adschema/a-samaccountname: at most 20 characters
// and none of " / \ [ ] : ; | = , + * ? < >. Account names also may not contain characters 1-31
// nor end with a period (USER_INFO_0 remarks,
// https://learn.microsoft.com/en-us/windows/win32/api/lmaccess/ns-lmaccess-user_info_0); Samba
// enforces the period itself with 19 constraintViolation "0000202F: samldb: sAMAccountName ends
// with '.'" (measured on 4.17), which only surfaced after a round trip and without our rule's name.
// eslint-disable-next-line no-control-regex -- characters 1-31 are exactly what is forbidden
const SAM_FORBIDDEN = /["/\\[\]:;|=,+*?<>\u0001-\u001f]/;
const SAM_MAX = 20;

/** unicodePwd is the password in double quotes, UTF-16LE, as bytes (MS-ADTS 3.1.1.3.1.5.1). */
export function unicodePwd(password: string): Buffer {
  return Buffer.from(`"${password}"`, "utf16le");
}

const activeDirectory: Preset = {
  name: "active-directory",
  objectClasses: ["top", "person", "organizationalPerson", "user"],
  rdnTemplate: "CN={userName}",
  attributes: {
    cn: "userName",
    // Down-level logon name: the part of a UPN-style userName before '@' (the whole name otherwise).
    sAMAccountName: { expr: '$substringBefore(userName, "@")' },
    // UPN only when userName has the user@realm shape; AD enforces forest-wide uniqueness on it.
    userPrincipalName: { expr: '$contains(userName, "@") ? userName' },
    givenName: "name.givenName",
    sn: "name.familyName",
    displayName: "displayName",
    mail: "emails.value",
    mobile: 'phoneNumbers[type eq "mobile"].value',
    telephoneNumber: 'phoneNumbers[type eq "work"].value',
    title: "title",
    streetAddress: `${WORK_ADDRESS}.streetAddress`,
    postalCode: `${WORK_ADDRESS}.postalCode`,
    l: `${WORK_ADDRESS}.locality`,
    st: `${WORK_ADDRESS}.region`,
    // SCIM country is ISO 3166-1 alpha-2 (RFC 7643 §4.1.2), the same as AD's c.
    c: `${WORK_ADDRESS}.country`,
  },
  required: ["cn", "sAMAccountName"],
  // In the AD schema all of these are single-valued (unlike RFC 4519/2798 for cn, sn, mail...).
  singleValued: ["cn", "sAMAccountName", "userPrincipalName", "givenName", "sn", "displayName", "mail", "mobile", "telephoneNumber", "title", "streetAddress", "postalCode", "l", "st", "c"],
  passwordNeedsTls: true,
  enableNeedsPassword: true,
  create({ dn, active, password, mustChange }) {
    // Enabled (512) only with a password in the same add: measured on Samba, ldap-targets.md §1.1.
    // Without one we send 514 (disabled, NORMAL_ACCOUNT) rather than let AD default to 546, whose
    // PASSWD_NOTREQD bit would let a later enable leave the account without a password.
    const enabled = active && password !== undefined;
    const uac = UF_NORMAL_ACCOUNT | (enabled ? 0 : UF_ACCOUNTDISABLE);
    const attributes: Record<string, LdapValue[]> = { userAccountControl: [String(uac)] };
    if (password !== undefined) attributes.unicodePwd = [unicodePwd(password)];
    return { attributes, after: password !== undefined && mustChange ? this.mustChange(dn) : [], active: enabled };
  },
  // Bit operations on the current value keep DONT_EXPIRE_PASSWORD, SMARTCARD_REQUIRED... (§1.2).
  disable: (dn) => [{ kind: "setBits", dn, attribute: "userAccountControl", set: UF_ACCOUNTDISABLE, clear: 0 }],
  enable: (dn) => [{ kind: "setBits", dn, attribute: "userAccountControl", set: 0, clear: UF_ACCOUNTDISABLE }],
  stateAttributes: ["userAccountControl"],
  isDisabled: (entry) => (Number(get(entry, "userAccountControl")[0] ?? "0") & UF_ACCOUNTDISABLE) !== 0,
  // An administrative reset is a single replace (MS-ADTS unicodePwd; KB 269190).
  setPassword: (dn, password) => [replace(dn, "unicodePwd", [unicodePwd(password)])],
  // Only 0 and -1 may be written; 0 = must change at next logon (ldap-targets.md §1.4).
  mustChange: (dn) => [replace(dn, "pwdLastSet", ["0"])],
  validate(attributes) {
    const missing = checkRequired("Active Directory", this.required, attributes);
    if (missing) return missing;
    for (const sam of get(attributes, "sAMAccountName")) {
      if ([...sam].length > SAM_MAX) return `sAMAccountName ${JSON.stringify(sam)} is longer than ${SAM_MAX} characters (the down-level logon name limit)`;
      if (SAM_FORBIDDEN.test(sam)) return `sAMAccountName ${JSON.stringify(sam)} contains one of the characters AD forbids: " / \\ [ ] : ; | = , + * ? < > or a control character`;
      if (sam.endsWith(".")) return `sAMAccountName ${JSON.stringify(sam)} ends with a period, which AD forbids in account names`;
    }
    return undefined;
  },
};

// ---------------------------------------------------------------------------------------------
// inetOrgPerson directories (RFC 2798): OpenLDAP and PingDirectory
// ---------------------------------------------------------------------------------------------

const INET_ORG_PERSON = ["top", "person", "organizationalPerson", "inetOrgPerson"];

/** The PingDirectory table of the seed, which OpenLDAP's preset extends. */
const PD_ATTRIBUTES: Record<string, AttributeMapping> = {
  uid: "userName",
  cn: "userName",
  sn: SN_WITH_FALLBACK,
  givenName: "name.givenName",
  mail: "emails.value",
  mobile: 'phoneNumbers[type eq "mobile"].value',
  telephoneNumber: 'phoneNumbers[type eq "work"].value',
  title: "title",
  street: `${WORK_ADDRESS}.streetAddress`,
  postalCode: `${WORK_ADDRESS}.postalCode`,
  l: `${WORK_ADDRESS}.locality`,
  st: `${WORK_ADDRESS}.region`,
  preferredLanguage: "preferredLanguage",
};

// SINGLE-VALUE in RFC 2798 §2 (displayName, employeeNumber, preferredLanguage); uid is multi-valued
// in RFC 4519 but one user has one login name.
const INET_SINGLE = ["uid", "displayName", "employeeNumber", "preferredLanguage"];

function userPasswordOps(dn: string, password: string): LdapOp[] {
  return [replace(dn, "userPassword", [password])];
}

/** pwdReset is honoured only under a policy with pwdMustChange: TRUE (ldap-targets.md §2.3; PD: pwdReset doc). */
const pwdReset = (dn: string): LdapOp[] => [replace(dn, "pwdReset", ["TRUE"])];

function inetCreate(this: Preset, input: { dn: string; active: boolean; password?: string; mustChange: boolean }) {
  const attributes: Record<string, LdapValue[]> = {};
  // Cleartext on purpose: OpenLDAP hashes it (olcPPolicyHashCleartext), PingDirectory encodes it
  // with the policy's storage scheme and rejects pre-encoded values by default (§2.3, §3).
  if (input.password !== undefined) attributes.userPassword = [input.password];
  // Account state is operational; it goes in a modify after the add, as both products document it.
  const after = [...(input.password !== undefined && input.mustChange ? this.mustChange(input.dn) : []), ...(input.active ? [] : this.disable(input.dn))];
  return { attributes, after, active: input.active };
}

const openldap: Preset = {
  name: "openldap",
  objectClasses: INET_ORG_PERSON,
  rdnTemplate: "uid={userName}",
  attributes: {
    ...PD_ATTRIBUTES,
    displayName: "displayName",
    employeeNumber: `${ENTERPRISE}:employeeNumber`,
  },
  required: ["cn", "sn"],
  singleValued: INET_SINGLE,
  passwordNeedsTls: false,
  enableNeedsPassword: false,
  create: inetCreate,
  // slapo-ppolicy(5): 000001010000Z locks until an administrator removes it; needs pwdLockout TRUE.
  // https://www.openldap.org/software/man.cgi?query=slapo-ppolicy&sektion=5&manpath=OpenLDAP+2.5-Release
  disable: (dn) => [replace(dn, "pwdAccountLockedTime", ["000001010000Z"])],
  // replace with no values removes the attribute and, unlike delete, succeeds when it is absent (§4.3).
  enable: (dn) => [replace(dn, "pwdAccountLockedTime", [])],
  // Any lock time counts: the default policy has no pwdLockoutDuration, so a lock lasts until an
  // administrator removes it (slapo-ppolicy(5), pwdAccountLockedTime).
  stateAttributes: ["pwdAccountLockedTime"],
  isDisabled: (entry) => get(entry, "pwdAccountLockedTime").length > 0,
  setPassword: userPasswordOps,
  mustChange: pwdReset,
  validate(attributes) {
    return checkRequired("inetOrgPerson", this.required, attributes);
  },
};

const pingdirectory: Preset = {
  name: "pingdirectory",
  objectClasses: INET_ORG_PERSON,
  rdnTemplate: "uid={userName}",
  attributes: PD_ATTRIBUTES,
  required: ["uid", "cn", "sn"],
  singleValued: INET_SINGLE,
  passwordNeedsTls: false,
  enableNeedsPassword: false,
  create: inetCreate,
  // https://docs.pingidentity.com/pingdirectory/latest/pingdirectory_security_guide/pd_sec_ext_modif_user_attrs.html
  // "TRUE", not the docs' "true": the attribute has Boolean syntax, whose only values are TRUE and
  // FALSE (RFC 4517 §3.3.3). PingDirectory accepts either spelling; a strict server (slapd with the
  // test schema, measured: 21 invalidAttributeSyntax) accepts only the RFC one.
  disable: (dn) => [replace(dn, "ds-pwp-account-disabled", ["TRUE"])],
  enable: (dn) => [replace(dn, "ds-pwp-account-disabled", [])],
  stateAttributes: ["ds-pwp-account-disabled"],
  isDisabled: (entry) => get(entry, "ds-pwp-account-disabled").some((v) => v.trim().toLowerCase() === "true"),
  setPassword: userPasswordOps,
  mustChange: pwdReset,
  validate(attributes) {
    return checkRequired("PingDirectory", this.required, attributes);
  },
};

export const PRESETS: Readonly<Record<PresetName, Preset>> = {
  "active-directory": activeDirectory,
  openldap,
  pingdirectory,
};

export function getPreset(name: PresetName): Preset {
  return PRESETS[name];
}
