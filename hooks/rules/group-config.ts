/**
 * Config schema for group rules (issue 5): which SCIM Groups go to which target, under which DN,
 * as which object class, and which of the gateway-style actions (create, rename, update, delete,
 * membership sync) run. Mappings are data, as for user rules (hooks/config.ts); every object is
 * strict so a misspelt key fails at start-up with its path.
 *
 * Defaults chosen here, and why:
 * - objectClass `groupOfNames` (member): the RFC 4519 §3.5 class both OpenLDAP and PingDirectory
 *   ship. Active Directory always uses `group` (https://learn.microsoft.com/en-us/windows/win32/adschema/c-group).
 * - groupType `{ scope: "global", security: true }`: the preselected choice of AD Users and
 *   Computers' "New Object - Group" dialog, and a security group can be named in ACLs, which is
 *   what provisioned groups are usually for (values: MS-ADTS 2.2.12,
 *   https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-adts/11972272-09ec-4a42-bf5e-3e99b321cf55).
 * - emptyGroups `placeholder`: Okta and Entra create groups empty and add members afterwards; the
 *   group should exist (ACLs, admins) as soon as it exists in SCIM. groupOfNames/groupOfUniqueNames
 *   MUST have a member (RFC 4519 §3.5, §3.6), so an empty group carries one placeholder DN, removed
 *   when the first real member arrives and put back before the last one leaves. Only used where the
 *   directory requires a member (OpenLDAP); AD and PingDirectory keep empty groups as they are.
 * - placeholderDn: `cn=nobody,<the dc= suffix of the DN template>` (or `cn=nobody,<template base>`
 *   when the template has no dc= RDNs). A fixed DN, not the group's own: it stays valid across
 *   renames without a rewrite, and a member value that names no entry is accepted by OpenLDAP
 *   without refint (slapo-refint(5) is what would check it).
 * - deprovision: onDelete `delete` (SCIM DELETE is explicit), onLeaveFilter `delete` (a group has no
 *   disabled state, and a stale group keeps granting whatever ACLs name it), onRuleRemoved `none`
 *   (PingOne's "deprovision on rule deletion" is opt-in,
 *   https://docs.pingidentity.com/pingone/integrations/p1_create_provisioning_connection_gateway.html).
 */
import { z } from "zod";
import { FilterError, type FilterNode } from "../../schemas/filter/ast.js";
import { parseFilter } from "../../schemas/filter/parse.js";
import { attributeMappingSchema, checkDnTemplate, checkJsonata, DIRECTORIES, parseDnTemplate } from "./config.js";
import { DnError, formatDn, parseDn } from "../ldap/dn.js";

const NAME = /^[A-Za-z0-9][\w.-]*$/;
const name = (what: string) => z.string().regex(NAME, "letters, digits, '.', '_' or '-'").describe(what);

// RFC 4512 §2.5 attribute description: descr or numericoid, options after ';'.
const LDAP_ATTR = /^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)(?:;[A-Za-z0-9-]+)*$/;

export const GROUP_OBJECT_CLASSES = ["groupOfNames", "groupOfUniqueNames"] as const;
export type GroupObjectClass = (typeof GROUP_OBJECT_CLASSES)[number];

export const GROUP_SCOPES = ["global", "domainLocal", "universal"] as const;
export type GroupScope = (typeof GROUP_SCOPES)[number];

/** Attributes the group preset and the membership planner own; mapping them would fight both. */
export const RESERVED_GROUP_ATTRIBUTES = ["objectClass", "member", "uniqueMember", "groupType"] as const;

/** SCIM Group attributes a group rule's filter may test (RFC 7643 §4.2). */
const FILTER_ROOTS = ["displayName", "externalId", "members"] as const;

const DEFAULT_GROUP_TYPE = { scope: "global", security: true } as const;

export const groupTypeSchema = z
  .strictObject({
    scope: z.enum(GROUP_SCOPES).default(DEFAULT_GROUP_TYPE.scope).describe("AD group scope"),
    security: z.boolean().default(DEFAULT_GROUP_TYPE.security).describe("security group (true) or distribution group (false)"),
  })
  .describe("Active Directory groupType (MS-ADTS 2.2.12)");

export type GroupTypeConfig = z.infer<typeof groupTypeSchema>;

const groupDeprovisionAction = z.enum(["delete", "none"]);
export type GroupDeprovisionAction = z.infer<typeof groupDeprovisionAction>;

const GROUP_DEPROVISION_DEFAULTS = { onDelete: "delete", onLeaveFilter: "delete", onRuleRemoved: "none" } as const;
const GROUP_ACTION_DEFAULTS = { create: true, rename: true, update: true, delete: true, members: true, deprovision: GROUP_DEPROVISION_DEFAULTS } as const;

export const groupActionsSchema = z
  .strictObject({
    create: z.boolean().default(true).describe("add entries for new groups"),
    rename: z.boolean().default(true).describe("modifyDN when the group's DN changes (rename and move)"),
    update: z.boolean().default(true).describe("replace mapped attributes that changed"),
    delete: z.boolean().default(true).describe("allow deleting entries (see deprovision for when)"),
    members: z.boolean().default(true).describe("sync memberships: one single-value modify per member added or removed"),
    deprovision: z
      .strictObject({
        onDelete: groupDeprovisionAction.default(GROUP_DEPROVISION_DEFAULTS.onDelete).describe("SCIM DELETE of the group"),
        onLeaveFilter: groupDeprovisionAction.default(GROUP_DEPROVISION_DEFAULTS.onLeaveFilter).describe("group stops matching the rule's filter"),
        onRuleRemoved: groupDeprovisionAction.default(GROUP_DEPROVISION_DEFAULTS.onRuleRemoved).describe("this rule is removed from config"),
      })
      .default(GROUP_DEPROVISION_DEFAULTS),
  })
  .default(GROUP_ACTION_DEFAULTS)
  .describe("which operations this group rule performs");

export type GroupRuleActions = z.infer<typeof groupActionsSchema>;

/** Attribute paths a filter tests, relative paths of `members[...]` prefixed. */
function filterPaths(node: FilterNode, prefix = ""): string[] {
  switch (node.kind) {
    case "and":
    case "or":
      return [...filterPaths(node.left, prefix), ...filterPaths(node.right, prefix)];
    case "not":
      return filterPaths(node.expr, prefix);
    case "valuePath":
      return [`${prefix}${node.path}`, ...filterPaths(node.filter, `${prefix}${node.path}.`)];
    default:
      return [prefix + node.path];
  }
}

/** Parses a group rule filter and checks it only tests displayName, externalId or members(.sub). */
export function checkGroupFilter(filter: string): string | undefined {
  let node: FilterNode;
  try {
    node = parseFilter(filter);
  } catch (e) {
    return e instanceof FilterError ? `invalid SCIM filter: ${e.message}` : String(e);
  }
  const GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group:";
  for (const raw of filterPaths(node)) {
    const path = raw.toLowerCase().startsWith(GROUP_URN.toLowerCase()) ? raw.slice(GROUP_URN.length) : raw;
    const [root, sub, extra] = path.split(".");
    const known = FILTER_ROOTS.find((r) => r.toLowerCase() === root?.toLowerCase());
    const subOk = sub === undefined || (known === "members" && ["value", "display", "type", "$ref"].includes(sub) && extra === undefined);
    if (!known || !subOk) return `a group rule filter may test only ${FILTER_ROOTS.join(", ")} (members.value, members.display, members.type); got ${JSON.stringify(raw)}`;
  }
  return undefined;
}

/**
 * The default placeholder member for a DN template: `cn=nobody` under the template's trailing dc=
 * RDNs (the naming context, RFC 2247), or under the template's base when it has none.
 */
export function defaultPlaceholderDn(template: string): string {
  // Placeholders only sit in the first RDN (checkDnTemplate), so the base is literal text.
  const marker = "\u0001";
  const probe = parseDnTemplate(template)
    .map((p) => ("literal" in p ? p.literal : marker))
    .join("");
  const base = parseDn(probe).slice(1);
  let i = base.length;
  while (i > 0 && base[i - 1]?.length === 1 && base[i - 1]?.[0]?.type.toLowerCase() === "dc") i--;
  const suffix = i < base.length ? base.slice(i) : base;
  return formatDn([[{ type: "cn", value: "nobody" }], ...suffix]);
}

export const groupRuleSchema = z
  .strictObject({
    name: name("group rule name; appears in sync status and logs"),
    target: name("name of the target this rule writes to"),
    preset: z.enum(DIRECTORIES).optional().describe("directory profile; defaults to the target's directory"),
    filter: z.string().min(1).optional().describe("SCIM filter on displayName, externalId or members selecting the groups; absent = all groups"),
    dn: z.string().min(1).describe("DN template, e.g. cn={displayName},ou=groups,dc=example,dc=com; values RFC 4514-escaped"),
    objectClass: z
      .enum(GROUP_OBJECT_CLASSES)
      .optional()
      .describe("OpenLDAP/PingDirectory: groupOfNames (member, default) or groupOfUniqueNames (uniqueMember); AD always uses group"),
    groupType: groupTypeSchema.optional().describe("AD only; default global security"),
    attributes: z.record(z.string(), attributeMappingSchema).default({}).describe("LDAP attribute -> source (SCIM Group path, {expr}, {value}, or null), merged over the preset's"),
    emptyGroups: z
      .enum(["placeholder", "skip"])
      .default("placeholder")
      .describe("where a group needs a member (groupOfNames on OpenLDAP): keep empty groups valid with a placeholder member, or create groups only once they have members"),
    placeholderDn: z.string().min(1).optional().describe("placeholder member DN; default cn=nobody under the DN template's dc= suffix"),
    actions: groupActionsSchema,
  })
  .superRefine((rule, ctx) => {
    const dnProblem = checkDnTemplate(rule.dn);
    if (dnProblem) ctx.addIssue({ code: "custom", path: ["dn"], message: `bad DN template: ${dnProblem}` });
    if (rule.filter !== undefined) {
      const problem = checkGroupFilter(rule.filter);
      if (problem) ctx.addIssue({ code: "custom", path: ["filter"], message: problem });
    }
    if (rule.placeholderDn !== undefined) {
      try {
        if (parseDn(rule.placeholderDn).length === 0) throw new DnError("empty", "the empty DN");
      } catch (e) {
        ctx.addIssue({ code: "custom", path: ["placeholderDn"], message: `not a DN (RFC 4514): ${e instanceof DnError ? e.reason : String(e)}` });
      }
    }
    if (rule.preset === "active-directory" && rule.objectClass !== undefined) {
      ctx.addIssue({ code: "custom", path: ["objectClass"], message: "Active Directory groups are always objectClass group; objectClass applies to OpenLDAP and PingDirectory" });
    }
    if (rule.preset !== undefined && rule.preset !== "active-directory" && rule.groupType !== undefined) {
      ctx.addIssue({ code: "custom", path: ["groupType"], message: `groupType is Active Directory only; preset is ${rule.preset}` });
    }
    const seen = new Map<string, string>();
    for (const [attr, mapping] of Object.entries(rule.attributes)) {
      const lower = attr.toLowerCase();
      if (!LDAP_ATTR.test(attr)) {
        ctx.addIssue({ code: "custom", path: ["attributes", attr], message: `${JSON.stringify(attr)} is not an LDAP attribute name (RFC 4512 §2.5)` });
      }
      if (RESERVED_GROUP_ATTRIBUTES.some((r) => r.toLowerCase() === lower)) {
        ctx.addIssue({ code: "custom", path: ["attributes", attr], message: `${attr} is managed by the group preset (objectClass, groupType, memberships); it cannot be mapped` });
      }
      const dup = seen.get(lower);
      if (dup) ctx.addIssue({ code: "custom", path: ["attributes", attr], message: `same attribute as ${dup} (LDAP names are case-insensitive)` });
      seen.set(lower, attr);
      if (mapping !== null && typeof mapping === "object" && "expr" in mapping) {
        const problem = checkJsonata(mapping.expr);
        if (problem) ctx.addIssue({ code: "custom", path: ["attributes", attr, "expr"], message: problem });
      }
    }
  })
  .describe("which groups go to which target, where, as what, and which actions run");

export type GroupRuleConfig = z.infer<typeof groupRuleSchema>;
export type GroupRuleInput = z.input<typeof groupRuleSchema>;

export const groupRulesSchema = z.array(groupRuleSchema).default([]).describe("group provisioning rules");

/**
 * Cross-checks group rules against targets (for the loader's superRefine): unique names, an
 * existing target, and the AD/non-AD options matching the target's directory when no preset says.
 */
export function refineGroupRules(
  value: { targets: { name: string; directory: (typeof DIRECTORIES)[number] }[]; groupRules: GroupRuleConfig[] },
  ctx: { addIssue(issue: { code: "custom"; path: (string | number)[]; message: string }): void },
  at: (string | number)[] = ["groupRules"],
): void {
  const byName = new Map(value.targets.map((t) => [t.name, t] as const));
  const names = new Set<string>();
  value.groupRules.forEach((r, i) => {
    if (names.has(r.name)) ctx.addIssue({ code: "custom", path: [...at, i, "name"], message: `duplicate group rule name ${r.name}` });
    names.add(r.name);
    const target = byName.get(r.target);
    if (!target) {
      const known = [...byName.keys()].join(", ") || "none defined";
      ctx.addIssue({ code: "custom", path: [...at, i, "target"], message: `no target named ${r.target} (targets: ${known})` });
      return;
    }
    const directory = r.preset ?? target.directory;
    if (directory === "active-directory" && r.objectClass !== undefined) {
      ctx.addIssue({ code: "custom", path: [...at, i, "objectClass"], message: `target ${target.name} is Active Directory: groups are always objectClass group` });
    }
    if (directory !== "active-directory" && r.groupType !== undefined) {
      ctx.addIssue({ code: "custom", path: [...at, i, "groupType"], message: `groupType is Active Directory only; target ${target.name} is ${directory}` });
    }
  });
}
