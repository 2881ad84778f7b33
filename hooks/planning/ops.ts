/**
 * LDAP operations as data: the planner (pure) returns them, the delivery worker executes them.
 * Values are strings, or Buffers where the directory needs bytes (AD unicodePwd).
 */

export type LdapValue = string | Buffer;

export interface LdapModification {
  operation: "add" | "delete" | "replace";
  attribute: string;
  /** Empty with `replace` removes the attribute; empty with `delete` removes all values. */
  values: LdapValue[];
}

export type LdapOp =
  | { kind: "add"; dn: string; attributes: Record<string, LdapValue[]> }
  | { kind: "modify"; dn: string; changes: LdapModification[] }
  /** Rename and/or move. newRdn is one escaped RDN (`uid=bob`); newSuperior is set for moves. */
  | { kind: "modifyDN"; dn: string; newRdn: string; newSuperior?: string }
  | { kind: "delete"; dn: string }
  /**
   * Read-modify-write of a bit mask attribute (AD userAccountControl): set or clear bits on the
   * current value, keeping the others (ldap-targets.md §1.2).
   */
  | { kind: "setBits"; dn: string; attribute: string; set: number; clear: number };

/** Result codes that mean "already so" for member value writes (ldap-targets.md §5.5). */
export const MEMBER_VALUE_ALREADY_PRESENT = [20, 68] as const;
export const MEMBER_VALUE_ALREADY_ABSENT = [16, 53] as const;

/** What an op wrote, without values (they may be passwords): attribute names, or the new RDN. */
export function describeOp(op: LdapOp): string | undefined {
  switch (op.kind) {
    case "add":
      return `attributes: ${Object.keys(op.attributes).join(", ")}`;
    case "modify":
      return `changes: ${op.changes.map((c) => `${c.operation} ${c.attribute}`).join(", ")}`;
    case "modifyDN":
      return `newRdn: ${op.newRdn}${op.newSuperior ? `, newSuperior: ${op.newSuperior}` : ""}`;
    case "setBits":
      return `${op.attribute}: set ${op.set}, clear ${op.clear}`;
    case "delete":
      return undefined;
  }
}
