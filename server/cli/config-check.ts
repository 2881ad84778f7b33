/**
 * What `config check` checks beyond the schema: the rules compile against the schema registry
 * (filter paths, mappings, DN templates). Returns the warnings about rules sharing a base.
 */
import type { Config } from "../config/schema.js";
import { compileGroupRules, compileRules } from "../provisioning.js";
import { describeOverlap, overlappingRules } from "../../hooks/rules/rule-overlap.js";
import { SchemaRegistry } from "../../schemas/registry.js";

export function checkConfig(c: Config): string[] {
  const registry = new SchemaRegistry(c.scim.extensions);
  return overlappingRules([...compileRules(c, registry), ...compileGroupRules(c, registry)]).map(describeOverlap);
}
