/**
 * A group rule ready for delivery: the planner's view (compileGroupRule: preset, object class,
 * member attribute, placeholder) plus what maps a SCIM Group to its entry (DN template and
 * attribute mappings over Group paths). Compiled once at start-up so a bad path fails there with
 * the key that holds it, exactly like user rules (mapping.ts).
 */
import type { FilterNode } from "../../schemas/filter/ast.js";
import { matchesFilter } from "../../schemas/filter/match.js";
import type { SchemaRegistry } from "../../schemas/registry.js";
import { parseDnTemplate, type AttributeMapping, type DirectoryKind } from "./config.js";
import type { GroupRuleConfig } from "./group-config.js";
import { compileGroupRule, type CompiledGroupRule, type GroupEntry } from "../planning/group-planner.js";
import { compileMapping, compilePath, renderEntry, RuleError, type CompiledMapping, type CompiledPath } from "./mapping.js";

export interface DeliverableGroupRule extends CompiledGroupRule {
  registry: SchemaRegistry;
  dn: (string | CompiledPath)[];
  mappings: CompiledMapping[];
  singleValued: Set<string>;
  /** The filter reads `members`, so matching needs the member list loaded. */
  filterNeedsMembers: boolean;
}

function mentionsMembers(node: FilterNode): boolean {
  switch (node.kind) {
    case "and":
    case "or":
      return mentionsMembers(node.left) || mentionsMembers(node.right);
    case "not":
      return mentionsMembers(node.expr);
    default:
      return node.path.toLowerCase().split(":").pop()!.split(".")[0] === "members";
  }
}

/** Compiles a validated group rule. Throws RuleError naming the offending key. */
export function compileDeliverableGroupRule(registry: SchemaRegistry, rule: GroupRuleConfig, target?: { directory: DirectoryKind }): DeliverableGroupRule {
  let base: CompiledGroupRule;
  try {
    base = compileGroupRule(rule, target);
  } catch (e) {
    throw new RuleError(rule.name, "preset", e instanceof Error ? e.message : String(e));
  }
  const dn: (string | CompiledPath)[] = [];
  try {
    for (const part of parseDnTemplate(rule.dn)) dn.push("literal" in part ? part.literal : compilePath(registry, part.path, "Group"));
  } catch (e) {
    throw new RuleError(rule.name, "dn", e instanceof Error ? e.message : String(e));
  }
  // The preset's mappings, overridden (or removed with null) by the rule's, case-insensitively.
  const merged = new Map<string, { attribute: string; mapping: Exclude<AttributeMapping, null>; origin: string }>();
  for (const [attribute, mapping] of Object.entries(base.preset.attributes)) {
    if (mapping !== null) merged.set(attribute.toLowerCase(), { attribute, mapping, origin: `preset ${base.preset.directory} ${attribute}` });
  }
  for (const [attribute, mapping] of Object.entries(rule.attributes)) {
    if (mapping === null) merged.delete(attribute.toLowerCase());
    else merged.set(attribute.toLowerCase(), { attribute, mapping, origin: `attributes.${attribute}` });
  }
  const mappings: CompiledMapping[] = [];
  for (const { attribute, mapping, origin } of merged.values()) {
    try {
      mappings.push(compileMapping(registry, attribute, mapping, origin, "Group"));
    } catch (e) {
      throw new RuleError(rule.name, origin.startsWith("attributes.") ? origin : `attributes.${attribute} (${origin})`, e instanceof Error ? e.message : String(e));
    }
  }
  return {
    ...base,
    registry,
    dn,
    mappings,
    // cn and AD's sAMAccountName hold one value each (RFC 4519 cn is multi-valued, but a group
    // has one name; sAMAccountName is single-valued in AD's schema).
    singleValued: new Set(["samaccountname", "displayname"]),
    filterNeedsMembers: base.filter ? mentionsMembers(base.filter) : false,
  };
}

/** Whether the rule selects the group (its SCIM filter, evaluated by the list-filter code). */
export function matchesGroupRule(rule: DeliverableGroupRule, group: Record<string, unknown>): boolean {
  return rule.filter ? matchesFilter(rule.registry, "Group", group, rule.filter) : true;
}

/** The entry the rule wants for the group: DN and mapped attributes (members are planned apart). Throws MappingError. */
export async function mapGroup(rule: DeliverableGroupRule, group: Record<string, unknown>): Promise<GroupEntry> {
  return renderEntry(rule, group, "group");
}
