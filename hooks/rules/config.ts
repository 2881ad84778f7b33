/**
 * Config schemas for LDAP targets and user rules (design.md decision 8: mappings are data).
 * The server's config loader embeds these and interpolates `${ENV}` before validation. Every object
 * is strict, so a misspelt key fails at start-up with its path instead of being silently ignored.
 * DN templates and JSONata expressions are checked here; SCIM paths and the rule filter need the
 * schema registry (custom extensions come from the same file) and are checked by compileRule.
 */
import jsonata from "jsonata";
import { z } from "zod";
import { DnError, parseDn } from "../ldap/dn.js";

export const DIRECTORIES = ["openldap", "active-directory", "pingdirectory"] as const;
export type DirectoryKind = (typeof DIRECTORIES)[number];
export type PresetName = DirectoryKind;

const NAME = /^[A-Za-z0-9][\w.-]*$/;
const name = (what: string) => z.string().regex(NAME, "letters, digits, '.', '_' or '-'").describe(what);

// ---------------------------------------------------------------------------------------------
// DN templates: `uid={userName},ou=people,dc=example,dc=com`
// ---------------------------------------------------------------------------------------------

export type TemplatePart = { literal: string } | { path: string };

/**
 * Splits a DN template into literal text (already DN syntax, written by the admin) and `{path}`
 * placeholders (SCIM paths, value paths allowed: `{emails[type eq "work"].value}`). Quotes inside a
 * placeholder may hold `}`. Throws Error with a readable reason.
 */
export function parseDnTemplate(template: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let lit = "";
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c === "}") throw new Error(`unmatched '}' at offset ${i}`);
    if (c !== "{") {
      lit += c;
      continue;
    }
    let j = i + 1;
    let quoted = false;
    while (j < template.length && (quoted || template[j] !== "}")) {
      if (template[j] === '"' && template[j - 1] !== "\\") quoted = !quoted;
      j++;
    }
    if (j >= template.length) throw new Error(`unclosed '{' at offset ${i}`);
    const path = template.slice(i + 1, j).trim();
    if (path === "" || path.includes("{")) throw new Error(`bad placeholder at offset ${i}`);
    if (lit) parts.push({ literal: lit });
    lit = "";
    parts.push({ path });
    i = j;
  }
  if (lit) parts.push({ literal: lit });
  return parts;
}

/**
 * Validates a DN template's shape: placeholders only in values, at least one in the first RDN (a
 * constant RDN would put every user on one entry), and a suffix after it. Returns a reason or undefined.
 */
export function checkDnTemplate(template: string): string | undefined {
  let parts: TemplatePart[];
  try {
    parts = parseDnTemplate(template);
  } catch (e) {
    return (e as Error).message;
  }
  // Stand-in values that parse as plain value text, so the literal parts are checked as a DN.
  const marker = (n: number) => `\u0001${n}\u0001`;
  let n = 0;
  const probe = parts.map((p) => ("literal" in p ? p.literal : marker(n++))).join("");
  let rdns;
  try {
    rdns = parseDn(probe);
  } catch (e) {
    return e instanceof DnError ? `not a DN once placeholders are filled in (${e.reason})` : String(e);
  }
  if (rdns.length < 2) return "needs an RDN with a placeholder followed by the base DN (e.g. uid={userName},ou=people,dc=example,dc=com)";
  if (!rdns[0]?.some((a) => a.value.includes("\u0001"))) return "the first RDN must contain a {placeholder}, or every user would get the same DN";
  return undefined;
}

/** Compiles a JSONata expression, returning the parser's reason when it fails. */
export function checkJsonata(expr: string): string | undefined {
  try {
    jsonata(expr);
    return undefined;
  } catch (e) {
    const err = e as { message?: string; position?: number };
    return `invalid JSONata: ${err.message ?? String(e)}${err.position !== undefined ? ` (position ${err.position})` : ""}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------------------------

export const tlsSchema = z
  .strictObject({
    caFile: z.string().min(1).optional().describe("PEM file with the CA certificate(s) that signed the server's certificate"),
    rejectUnauthorized: z.boolean().default(true).describe("verify the server certificate (keep true outside tests)"),
  })
  .describe("TLS options for ldaps:// and StartTLS");

export const targetSchema = z
  .strictObject({
    name: name("target name that rules refer to"),
    directory: z.enum(DIRECTORIES).describe("directory product; picks the default preset of rules on this target"),
    urls: z
      .array(z.string().regex(/^ldaps?:\/\/[^\s/?#]+\/?$/i, "an ldap:// or ldaps:// URL with host and optional port"))
      .min(1)
      .describe("server URLs, tried in order (failover)"),
    bindDn: z
      .string()
      .min(1)
      .refine((dn) => {
        try {
          return parseDn(dn).length > 0;
        } catch {
          return false;
        }
      }, "a DN (RFC 4514)")
      .describe("DN of the service account"),
    bindPassword: z.string().min(1).describe("password of the service account, usually ${ENV_VAR}"),
    startTls: z.boolean().default(false).describe("upgrade ldap:// connections with StartTLS before binding"),
    tls: tlsSchema.optional(),
    timeoutMs: z.number().int().positive().default(10_000).describe("per-operation timeout"),
    connectTimeoutMs: z.number().int().positive().default(5_000).describe("connect timeout"),
    concurrency: z.number().int().min(1).max(256).default(8).describe("operations in flight against this target"),
    globalConcurrency: z
      .number()
      .int()
      .min(1)
      .max(4096)
      .optional()
      .describe("deliveries in flight against this target across all replicas sharing the database (a directory that throttles); absent: concurrency per replica"),
  })
  .superRefine((t, ctx) => {
    if (t.startTls && t.urls.some((u) => /^ldaps:/i.test(u))) {
      ctx.addIssue({ code: "custom", path: ["startTls"], message: "StartTLS applies to ldap:// URLs; ldaps:// is already TLS" });
    }
  })
  .describe("an LDAP directory that rules write to");

export type TargetConfig = z.infer<typeof targetSchema>;

/** Whether every connection to the target is encrypted (ldaps:// or StartTLS on all URLs). */
export function isTargetSecure(t: Pick<TargetConfig, "urls" | "startTls">): boolean {
  return t.urls.every((u) => /^ldaps:/i.test(u)) || Boolean(t.startTls);
}

// ---------------------------------------------------------------------------------------------
// User rules
// ---------------------------------------------------------------------------------------------

/**
 * Attributes the preset owns (account state, passwords, object classes). Mapping them directly
 * would fight the planner's bit operations and password handling.
 */
export const RESERVED_ATTRIBUTES = [
  "objectClass",
  "userPassword",
  "unicodePwd",
  "userAccountControl",
  "pwdLastSet",
  "pwdAccountLockedTime",
  "pwdReset",
  "ds-pwp-account-disabled",
] as const;

export const attributeMappingSchema = z
  .union([
    z.string().min(1).describe("SCIM path shorthand: name.givenName, emails[type eq \"work\"].value, urn:...:employeeNumber"),
    z.strictObject({ path: z.string().min(1).describe("SCIM path") }),
    z.strictObject({ expr: z.string().min(1).describe("JSONata expression evaluated against the SCIM resource") }),
    z.strictObject({ value: z.union([z.string(), z.array(z.string())]).describe("constant value(s)") }),
    z.null().describe("removes the preset's mapping for this attribute"),
  ])
  .describe("where an LDAP attribute's values come from");

export type AttributeMapping = z.infer<typeof attributeMappingSchema>;

const deprovisionAction = z.enum(["delete", "disable", "none"]);
export type DeprovisionAction = z.infer<typeof deprovisionAction>;

/**
 * Defaults, following PingOne's gateway where it has one (its "Deprovision on rule deletion" is an
 * opt-in checkbox, hence `none`). onDelete is `delete`: a SCIM DELETE is explicit and leaves no
 * resource through which a disabled entry could ever be managed again. onLeaveFilter is `disable`:
 * the user still exists and is re-enabled when they match again.
 */
const DEPROVISION_DEFAULTS = { onDelete: "delete", onLeaveFilter: "disable", onRuleRemoved: "none" } as const;

export const actionsSchema = z
  .strictObject({
    create: z.boolean().default(true).describe("add entries for new users"),
    update: z.boolean().default(true).describe("modify changed attributes; rename/move when the DN changes"),
    disable: z.boolean().default(true).describe("disable the entry when active turns false"),
    enable: z.boolean().default(true).describe("re-enable the entry when active turns true again"),
    password: z.boolean().default(true).describe("deliver SCIM passwords"),
    mustChangePassword: z.boolean().default(false).describe("flag delivered passwords as must-change (AD pwdLastSet=0, ppolicy pwdReset)"),
    deprovision: z
      .strictObject({
        onDelete: deprovisionAction.default(DEPROVISION_DEFAULTS.onDelete).describe("SCIM DELETE (PingOne's Remove Action)"),
        onLeaveFilter: deprovisionAction.default(DEPROVISION_DEFAULTS.onLeaveFilter).describe("user stops matching the rule's filter"),
        onRuleRemoved: deprovisionAction.default(DEPROVISION_DEFAULTS.onRuleRemoved).describe("this rule is removed from config"),
      })
      .default(DEPROVISION_DEFAULTS),
  })
  .default({ create: true, update: true, disable: true, enable: true, password: true, mustChangePassword: false, deprovision: DEPROVISION_DEFAULTS })
  .describe("which operations this rule performs");

export type RuleActions = z.infer<typeof actionsSchema>;

// RFC 4512 §2.5 attribute description: descr or numericoid, options after ';'.
const LDAP_ATTR = /^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)(?:;[A-Za-z0-9-]+)*$/;

export const userRuleSchema = z
  .strictObject({
    name: name("rule name; appears in sync status and logs"),
    target: name("name of the target this rule writes to"),
    preset: z.enum(DIRECTORIES).optional().describe("attribute defaults and account-state handling; defaults to the target's directory"),
    filter: z.string().min(1).optional().describe("SCIM filter selecting the users this rule applies to; absent = all users"),
    dn: z.string().min(1).describe("DN template, e.g. uid={userName},ou=people,dc=example,dc=com; placeholders are SCIM paths, values RFC 4514-escaped"),
    objectClasses: z.array(z.string().regex(/^[A-Za-z][A-Za-z0-9-]*$/, "an object class name")).min(1).optional().describe("object classes for new entries; defaults to the preset's"),
    attributes: z
      // Keys are checked in superRefine: zod's own record-key issue says only "Invalid key in record".
      .record(z.string(), attributeMappingSchema)
      .default({})
      .describe("LDAP attribute -> source, merged over the preset's defaults"),
    actions: actionsSchema,
    correlation: z
      .strictObject({
        attribute: z.string().regex(LDAP_ATTR, "an LDAP attribute name").optional().describe("LDAP attribute holding the SCIM id, checked before adopting an existing entry"),
      })
      .optional()
      .describe("how an existing entry is recognised as this user's"),
  })
  .superRefine((rule, ctx) => {
    const dnProblem = checkDnTemplate(rule.dn);
    if (dnProblem) ctx.addIssue({ code: "custom", path: ["dn"], message: `bad DN template: ${dnProblem}` });
    const seen = new Map<string, string>();
    for (const [attr, mapping] of Object.entries(rule.attributes)) {
      const lower = attr.toLowerCase();
      if (!LDAP_ATTR.test(attr)) {
        ctx.addIssue({ code: "custom", path: ["attributes", attr], message: `${JSON.stringify(attr)} is not an LDAP attribute name (RFC 4512 §2.5: letters, digits, '-', options after ';')` });
      }
      if (RESERVED_ATTRIBUTES.some((r) => r.toLowerCase() === lower)) {
        ctx.addIssue({ code: "custom", path: ["attributes", attr], message: `${attr} is managed by the preset (objectClasses, actions, passwords); it cannot be mapped` });
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
  .describe("which users go to which target, where, and with what attributes");

export type UserRuleConfig = z.infer<typeof userRuleSchema>;
export type UserRuleInput = z.input<typeof userRuleSchema>;

export const targetsSchema = z.array(targetSchema).default([]).describe("LDAP targets");
export const userRulesSchema = z.array(userRuleSchema).default([]).describe("user provisioning rules");

/** The preset a rule uses: its own, or its target's directory. */
export function presetOf(rule: Pick<UserRuleConfig, "preset">, target: Pick<TargetConfig, "directory">): PresetName {
  return rule.preset ?? target.directory;
}

/**
 * Cross-checks targets and rules (for the loader's superRefine): unique names, rules naming an
 * existing target, and AD passwords only over TLS (unicodePwd needs an encrypted connection,
 * https://learn.microsoft.com/en-us/openspecs/windows_protocols/MS-ADTS/6e803168-f140-4d23-b2d3-c3a8ab5917d2).
 */
export function refineHooks(
  value: { targets: TargetConfig[]; userRules: UserRuleConfig[] },
  ctx: { addIssue(issue: { code: "custom"; path: (string | number)[]; message: string }): void },
  at: { targets: (string | number)[]; userRules: (string | number)[] } = { targets: ["targets"], userRules: ["userRules"] },
): void {
  const byName = new Map<string, TargetConfig>();
  value.targets.forEach((t, i) => {
    if (byName.has(t.name)) ctx.addIssue({ code: "custom", path: [...at.targets, i, "name"], message: `duplicate target name ${t.name}` });
    byName.set(t.name, t);
  });
  const rules = new Set<string>();
  value.userRules.forEach((r, i) => {
    if (rules.has(r.name)) ctx.addIssue({ code: "custom", path: [...at.userRules, i, "name"], message: `duplicate rule name ${r.name}` });
    rules.add(r.name);
    const target = byName.get(r.target);
    if (!target) {
      const known = [...byName.keys()].join(", ") || "none defined";
      ctx.addIssue({ code: "custom", path: [...at.userRules, i, "target"], message: `no target named ${r.target} (targets: ${known})` });
      return;
    }
    if (presetOf(r, target) === "active-directory" && r.actions.password && !isTargetSecure(target)) {
      ctx.addIssue({
        code: "custom",
        path: [...at.userRules, i, "actions", "password"],
        message: `Active Directory accepts passwords (unicodePwd) only over TLS: give target ${target.name} ldaps:// URLs or startTls: true, or set actions.password: false`,
      });
    }
  });
}

/** targets + userRules with the cross-checks, for callers that validate them on their own. */
export const hooksConfigSchema = z
  .strictObject({ targets: targetsSchema, userRules: userRulesSchema })
  .superRefine((v, ctx) => refineHooks(v, ctx));

export type HooksConfig = z.infer<typeof hooksConfigSchema>;
