/**
 * scimmy is a process-wide singleton (scimmy-pitfalls.md): its resources are declared here and
 * nowhere else. We use it for what it gets right, the discovery documents (RFC 7643 §5–7);
 * everything that reads or writes resources is our own code.
 */
import SCIMMY from "scimmy";
import type { AttributeDef, SchemaDef, SchemaRegistry } from "./registry.js";

type ScimmyAttribute = InstanceType<typeof SCIMMY.Types.Attribute>;

function toScimmyAttribute(a: AttributeDef): ScimmyAttribute {
  const config = {
    multiValued: a.multiValued,
    description: a.description ?? "",
    required: a.required,
    caseExact: a.caseExact,
    // scimmy names these `mutable` and `returned` and reads their RFC 7643 §7 strings.
    mutable: a.mutability,
    returned: a.returned,
    uniqueness: a.uniqueness,
    ...(a.canonicalValues ? { canonicalValues: a.canonicalValues } : {}),
    ...(a.referenceTypes ? { referenceTypes: a.referenceTypes } : {}),
  };
  const subs = a.subAttributes?.map(toScimmyAttribute) ?? [];
  // scimmy's typings only list the string literal types it knows; ours are the same set.
  return new SCIMMY.Types.Attribute(a.type as never, a.name, config as never, subs);
}

const declaredExtensions = new Set<string>();
let resourcesDeclared = false;

function toDefinition(s: SchemaDef) {
  return new SCIMMY.Types.SchemaDefinition(s.name, s.id, s.description, s.attributes.map(toScimmyAttribute));
}

/** Declares User (with Enterprise and config extensions) and Group in scimmy, once per process. */
export function declareScimmyResources(registry: SchemaRegistry): void {
  for (const kind of ["User", "Group"] as const) {
    const rt = registry.resourceType(kind);
    const Resource = kind === "User" ? SCIMMY.Resources.User : SCIMMY.Resources.Group;
    for (const ext of rt.extensions) {
      if (declaredExtensions.has(ext.schema.id)) continue;
      declaredExtensions.add(ext.schema.id);
      const definition = ext.schema.id === SCIMMY.Schemas.EnterpriseUser.definition.id ? SCIMMY.Schemas.EnterpriseUser : toDefinition(ext.schema);
      Resource.extend(definition as never, ext.required);
    }
  }
  if (!resourcesDeclared) {
    SCIMMY.Resources.declare(SCIMMY.Resources.User);
    SCIMMY.Resources.declare(SCIMMY.Resources.Group);
    resourcesDeclared = true;
  }
}

export { SCIMMY };
