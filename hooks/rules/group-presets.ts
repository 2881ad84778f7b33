/**
 * Group presets: per directory product, the object classes of a group, the attribute that holds
 * members, the naming attribute, whether a group may be empty, AD's groupType and sAMAccountName,
 * and the default attribute mappings from a SCIM Group (RFC 7643 §4.2).
 */
import type { AttributeMapping, DirectoryKind } from "./config.js";
import type { GroupObjectClass, GroupScope, GroupTypeConfig } from "./group-config.js";

export interface GroupPreset {
  directory: DirectoryKind;
  /** Object classes of a new group entry (structural chain first). */
  objectClasses: readonly string[];
  /** DN-valued attribute holding the members; written only with single-value add/delete. */
  memberAttribute: "member" | "uniqueMember";
  /** RDN attribute of the usual DN template. */
  namingAttribute: string;
  /** Whether the directory keeps a group with no member. */
  allowsEmpty: boolean;
  /** Default mappings from the SCIM Group; a rule overrides or removes (null) them. */
  attributes: Readonly<Record<string, AttributeMapping>>;
  /** Whether the group carries groupType and a sAMAccountName (Active Directory). */
  activeDirectory: boolean;
  /** A directory-specific problem with the mapped attributes, or undefined. */
  validate(attributes: Record<string, string[]>): string | undefined;
}

// ---------------------------------------------------------------------------------------------
// Active Directory
// ---------------------------------------------------------------------------------------------

/**
 * groupType flags, MS-ADTS 2.2.12 (https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-adts/11972272-09ec-4a42-bf5e-3e99b321cf55)
 * and ADS_GROUP_TYPE_ENUM (https://learn.microsoft.com/en-us/windows/win32/api/iads/ne-iads-ads_group_type_enum).
 */
export const GROUP_TYPE_FLAGS = {
  global: 0x2,
  domainLocal: 0x4,
  universal: 0x8,
  security: 0x80000000,
} as const;

/**
 * The groupType value for a scope and kind, as the signed 32-bit decimal string AD stores
 * (groupType is an Integer, i.e. 32-bit signed: global security is -2147483646).
 */
export function adGroupType(config: GroupTypeConfig): string {
  const scope: Record<GroupScope, number> = { global: GROUP_TYPE_FLAGS.global, domainLocal: GROUP_TYPE_FLAGS.domainLocal, universal: GROUP_TYPE_FLAGS.universal };
  // `| 0` makes the OR a signed 32-bit integer, which is what the attribute's syntax holds.
  return String((scope[config.scope] | (config.security ? GROUP_TYPE_FLAGS.security : 0)) | 0);
}

/**
 * sAMAccountName of a group. The attribute's schema allows up to 256 characters (Range-Upper 256,
 * https://learn.microsoft.com/en-us/windows/win32/adschema/a-samaccountname); the 20-character
 * limit there is for user logon names, while "group names are limited to 256 characters" and no
 * account name may contain `" / \ [ ] : ; | = , + * ? < >`, characters 1-31, or end in a period
 * (USER_INFO_0 remarks, https://learn.microsoft.com/en-us/windows/win32/api/lmaccess/ns-lmaccess-user_info_0).
 */
export const GROUP_SAM_MAX = 256;
// eslint-disable-next-line no-control-regex -- characters 1-31 are exactly what is forbidden
const SAM_FORBIDDEN = /["/\\[\]:;|=,+*?<>\u0001-\u001f]/;

/** Why a group sAMAccountName would be rejected, or undefined. */
export function checkGroupSamAccountName(sam: string): string | undefined {
  if (sam.length === 0) return "sAMAccountName is empty";
  if ([...sam].length > GROUP_SAM_MAX) return `sAMAccountName ${JSON.stringify(sam)} is longer than ${GROUP_SAM_MAX} characters (the AD limit for group names)`;
  if (SAM_FORBIDDEN.test(sam)) return `sAMAccountName ${JSON.stringify(sam)} contains a character AD forbids in account names: " / \\ [ ] : ; | = , + * ? < > or a control character`;
  if (sam.endsWith(".")) return `sAMAccountName ${JSON.stringify(sam)} ends with a period, which AD forbids in account names`;
  return undefined;
}

const get = (attrs: Record<string, string[]>, name: string): string[] =>
  Object.entries(attrs).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1] ?? [];

const activeDirectory: GroupPreset = {
  directory: "active-directory",
  // https://learn.microsoft.com/en-us/windows/win32/adschema/c-group
  objectClasses: ["top", "group"],
  // A linked attribute; memberOf is its read-only back-link (https://learn.microsoft.com/en-us/windows/win32/adschema/a-member).
  memberAttribute: "member",
  namingAttribute: "CN",
  // AD groups may be empty: member is a MAY of class group (c-group above).
  allowsEmpty: true,
  attributes: { cn: "displayName", sAMAccountName: "displayName", displayName: "displayName" },
  activeDirectory: true,
  validate(attributes) {
    for (const sam of get(attributes, "sAMAccountName")) {
      const problem = checkGroupSamAccountName(sam);
      if (problem) return problem;
    }
    return undefined;
  },
};

// ---------------------------------------------------------------------------------------------
// OpenLDAP and PingDirectory: groupOfNames / groupOfUniqueNames (RFC 4519 §3.5, §3.6)
// ---------------------------------------------------------------------------------------------

const MEMBER_ATTRIBUTE: Record<GroupObjectClass, "member" | "uniqueMember"> = { groupOfNames: "member", groupOfUniqueNames: "uniqueMember" };

function rfc4519(directory: "openldap" | "pingdirectory", objectClass: GroupObjectClass): GroupPreset {
  return {
    directory,
    objectClasses: ["top", objectClass],
    memberAttribute: MEMBER_ATTRIBUTE[objectClass],
    namingAttribute: "cn",
    // RFC 4519 §3.5/§3.6 make member/uniqueMember MUST; OpenLDAP enforces it (65 objectClassViolation).
    // PingDirectory relaxes it: "the member attribute is optional"
    // (https://docs.pingidentity.com/pingdirectory/latest/pingdirectory_server_administration_guide/pd_ds_use_static_groups.html).
    allowsEmpty: directory === "pingdirectory",
    attributes: { cn: "displayName" },
    activeDirectory: false,
    validate: () => undefined,
  };
}

/** The group preset for a directory; objectClass is ignored for AD (always `group`). */
export function getGroupPreset(directory: DirectoryKind, objectClass: GroupObjectClass = "groupOfNames"): GroupPreset {
  return directory === "active-directory" ? activeDirectory : rfc4519(directory, objectClass);
}
