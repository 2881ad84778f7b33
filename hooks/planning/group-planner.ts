/**
 * The group planner: pure and synchronous, from (compiled group rule, mapped group entry, what was
 * last written, member DN deltas, event) to LDAP operations (issue 5). Follows PingOne's gateway
 * actions (create, delete, membership sync,
 * https://docs.pingidentity.com/pingone/integrations/p1_create_provisioning_connection_gateway.html)
 * and adds rename/move with modifyDN.
 *
 * Membership is never rewritten as a whole: each member added or removed is one single-value
 * modify (RFC 4511 §4.6 add/delete of one value), so a change to a 100,000-member group costs one
 * small operation and concurrent writers never overwrite each other's members.
 *
 * Member DNs are resolved by the caller (the user rules' correlation state) at send time; members
 * it could not resolve are not passed here (they wait until the user is delivered).
 */
import type { DirectoryKind } from "../rules/config.js";
import { defaultPlaceholderDn, type GroupDeprovisionAction, type GroupRuleActions, type GroupRuleConfig } from "../rules/group-config.js";
import { adGroupType, getGroupPreset, type GroupPreset } from "../rules/group-presets.js";
import { formatRdn, normalizeDn, parentDn, parseDn, rdnOf, sameDn, sameDnSpelling } from "../ldap/dn.js";
import type { LdapModification, LdapOp, LdapValue } from "./ops.js";
import { parseFilter } from "../../schemas/filter/parse.js";
import type { FilterNode } from "../../schemas/filter/ast.js";

/** A group rule with its preset resolved; built once at start-up by compileGroupRule. */
export interface CompiledGroupRule {
  name: string;
  target: string;
  config: GroupRuleConfig;
  preset: GroupPreset;
  filter?: FilterNode;
  objectClasses: string[];
  memberAttribute: "member" | "uniqueMember";
  /** AD groupType as a signed decimal string; absent for other directories. */
  groupType?: string;
  /** Whether an empty group needs the placeholder / skip handling on this directory. */
  needsMember: boolean;
  emptyGroups: "placeholder" | "skip";
  placeholderDn: string;
  actions: GroupRuleActions;
}

/** Resolves a validated group rule's preset (own, else the target's directory) and defaults. Throws Error. */
export function compileGroupRule(rule: GroupRuleConfig, target?: { directory: DirectoryKind }): CompiledGroupRule {
  const directory = rule.preset ?? target?.directory;
  if (!directory) throw new Error(`group rule ${rule.name}, preset: no preset and no target to take the directory from`);
  const preset = getGroupPreset(directory, rule.objectClass);
  return {
    name: rule.name,
    target: rule.target,
    config: rule,
    preset,
    ...(rule.filter !== undefined ? { filter: parseFilter(rule.filter) } : {}),
    objectClasses: [...preset.objectClasses],
    memberAttribute: preset.memberAttribute,
    ...(preset.activeDirectory ? { groupType: adGroupType(rule.groupType ?? { scope: "global", security: true }) } : {}),
    needsMember: !preset.allowsEmpty,
    emptyGroups: rule.emptyGroups,
    placeholderDn: rule.placeholderDn ?? defaultPlaceholderDn(rule.dn),
    actions: rule.actions,
  };
}

/** A group entry as the rule maps it: DN and mapped attributes (no members, no objectClass). */
export interface GroupEntry {
  dn: string;
  attributes: Record<string, string[]>;
}

/** What the directory holds for a (group, rule) after our last successful delivery. */
export interface WrittenGroup extends GroupEntry {
  /** The placeholder DN is currently a member value. */
  placeholder: boolean;
  /** Real (non-placeholder) members in the directory; absent = unknown. */
  memberCount?: number;
}

export type GroupPlanEvent = "upsert" | "delete" | "leftFilter" | "ruleRemoved";

export interface GroupPlanInput {
  rule: CompiledGroupRule;
  /** The group as mapped before the change (informational; lastWritten is what counts). */
  before?: GroupEntry;
  /** The group as mapped now; required for upsert. */
  after?: GroupEntry;
  lastWritten?: WrittenGroup;
  /**
   * Member DNs to add. Without lastWritten (the group is not in the directory yet) this is the
   * group's whole resolved membership, written with the add.
   */
  membersAdded: string[];
  membersRemoved: string[];
  /**
   * Values that may be in the group though no written member records them (a departed member's
   * entry renamed under refint, which rewrites member values by itself, slapo-refint(5)): deleted
   * if present, never counted as a member leaving.
   */
  membersMaybeHeld?: string[];
  /**
   * Member values held in an old spelling of their entry's DN (`from` and `to` name the same entry:
   * the member was renamed in case only, ldap-targets.md §7). Each is rewritten in one modify.
   */
  membersRespelled?: { from: string; to: string }[];
  /**
   * Real members the group will have once this change is applied, as the caller counts them
   * (resolved members). Needed to know when the last member leaves; when absent, it is derived
   * from lastWritten.memberCount, and if that is unknown too the planner assumes it may reach 0.
   */
  memberCount?: number;
  event: GroupPlanEvent;
}

export type GroupPlanResult =
  | {
      ops: LdapOp[];
      /** What to store as lastWritten after all ops succeeded; null = no entry. */
      written: WrittenGroup | null;
    }
  | { error: string };

const DEPROVISION_KEY = { delete: "onDelete", leftFilter: "onLeaveFilter", ruleRemoved: "onRuleRemoved" } as const;

/** Plans one group change for one rule. Never throws for bad data: problems come back as `{ error }`. */
export function planGroup(input: GroupPlanInput): GroupPlanResult {
  try {
    if (input.event !== "upsert") {
      return deprovision(input.rule.actions, input.lastWritten, input.rule.actions.deprovision[DEPROVISION_KEY[input.event]]);
    }
    if (!input.after) return { error: "an upsert needs the mapped group (after)" };
    return input.lastWritten ? update(input, input.after, input.lastWritten) : create(input, input.after);
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

function deprovision(actions: GroupRuleActions, last: WrittenGroup | undefined, action: GroupDeprovisionAction): GroupPlanResult {
  if (!last) return { ops: [], written: null };
  if (action === "delete" && actions.delete) return { ops: [{ kind: "delete", dn: last.dn }], written: null };
  return { ops: [], written: last };
}

/** A comparison key for a DN (RFC 4514 aware, case-folded); unparsable DNs key as themselves. */
function dnKey(dn: string): string {
  try {
    return normalizeDn(dn);
  } catch {
    return dn;
  }
}

/**
 * Member DNs without duplicates (by dnKey, so a 100,000-member delta stays linear) and without the
 * placeholder, in the caller's order and spelling.
 */
function memberList(dns: string[], placeholder: string, exclude: ReadonlySet<string> = new Set()): string[] {
  const seen = new Set<string>([dnKey(placeholder), ...exclude]);
  const out: string[] = [];
  for (const dn of dns) {
    const key = dnKey(dn);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(dn);
  }
  return out;
}

/** The mapped attributes plus the RDN's values (RFC 4512 §2.3: an entry holds its RDN's values). */
function withRdn(entry: GroupEntry): Record<string, string[]> {
  const attributes: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(entry.attributes)) attributes[k] = [...v];
  for (const ava of parseDn(entry.dn)[0] ?? []) {
    const key = Object.keys(attributes).find((k) => k.toLowerCase() === ava.type.toLowerCase()) ?? ava.type;
    const others = (attributes[key] ?? []).filter((v) => v.toLowerCase() !== ava.value.toLowerCase());
    attributes[key] = [ava.value, ...others];
  }
  return attributes;
}

function copy(attrs: Record<string, string[]>): Record<string, string[]> {
  return Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, [...v]]));
}

function create(input: GroupPlanInput, after: GroupEntry): GroupPlanResult {
  const { rule } = input;
  const { actions, preset } = rule;
  if (!actions.create) return { ops: [], written: null };
  const mapped = withRdn(after);
  const invalid = preset.validate(mapped);
  if (invalid) return { error: `group rule ${rule.name}: ${invalid}` };

  const members = actions.members ? memberList(input.membersAdded, rule.placeholderDn) : [];
  let placeholder = false;
  if (members.length === 0 && rule.needsMember) {
    // emptyGroups: skip waits for the first member, whose arrival (no lastWritten yet) creates the
    // group with it. With membership sync off no member ever arrives, so the placeholder is used.
    if (rule.emptyGroups === "skip" && actions.members) return { ops: [], written: null };
    placeholder = true;
  }

  const attributes: Record<string, LdapValue[]> = { objectClass: [...rule.objectClasses] };
  for (const [name, values] of Object.entries(mapped)) {
    // An empty list would reach the server as one empty value, which it rejects.
    if (values.length > 0) attributes[name] = [...values];
  }
  if (rule.groupType !== undefined) {
    attributes.groupType = [rule.groupType];
    // Always send a sAMAccountName: without one AD invents a random `$XXXXXX-...` name.
    const hasSam = Object.keys(attributes).some((k) => k.toLowerCase() === "samaccountname");
    if (!hasSam) {
      const cn = parseDn(after.dn)[0]?.[0]?.value ?? "";
      attributes.sAMAccountName = [cn];
      const problem = preset.validate({ sAMAccountName: [cn] });
      if (problem) return { error: `group rule ${rule.name}: ${problem}` };
    }
  }
  const memberValues = placeholder ? [rule.placeholderDn] : members.slice(0, MEMBER_CHUNK);
  if (memberValues.length > 0) attributes[rule.memberAttribute] = [...memberValues];
  return {
    // A large group's add carries the first chunk; the rest follow as chunked modify-adds.
    ops: [{ kind: "add", dn: after.dn, attributes }, ...memberOps(after.dn, rule.memberAttribute, "add", members.slice(MEMBER_CHUNK))],
    written: { dn: after.dn, attributes: copy(after.attributes), placeholder, memberCount: members.length },
  };
}

const memberOp = (dn: string, attribute: string, operation: "add" | "delete", values: string[]): LdapOp => ({
  kind: "modify",
  dn,
  changes: [{ operation, attribute, values }],
});

/** Deltas up to this size are one single-value modify per member: a failure names one member. */
export const SINGLE_VALUE_MEMBER_OPS = 16;
/**
 * Larger deltas (a bulk add, a group entering the directory with its members) go in modifies of
 * this many values. Each modify makes slapd rewrite the whole entry, so 100,000 single-value
 * modifies on a large group would be quadratic; ldap-targets.md §1.5 measured chunks of 500 on
 * Samba (1,600 members in 4 modifies, 382 ms), and a 500-DN request stays far below slapd's 4 MB
 * sockbuf_max_incoming_auth. Still value-level add/delete, never a replace of the list.
 */
export const MEMBER_CHUNK = 500;

function memberOps(dn: string, attribute: string, operation: "add" | "delete", values: string[]): LdapOp[] {
  if (values.length <= SINGLE_VALUE_MEMBER_OPS) return values.map((v) => memberOp(dn, attribute, operation, [v]));
  const ops: LdapOp[] = [];
  for (let i = 0; i < values.length; i += MEMBER_CHUNK) ops.push(memberOp(dn, attribute, operation, values.slice(i, i + MEMBER_CHUNK)));
  return ops;
}

function update(input: GroupPlanInput, after: GroupEntry, last: WrittenGroup): GroupPlanResult {
  const { rule } = input;
  const { actions, preset } = rule;
  const ops: LdapOp[] = [];
  let dn = last.dn;
  const written: WrittenGroup = { ...last, attributes: copy(last.attributes) };
  const state = withRdn(last);

  // 1. Rename and/or move. sameDn, not string equality: the stored DN may be the server's spelling.
  //    A case-only change of the RDN (blue → BLUE) is a rename too: modifyDN rewrites the naming
  //    value with the DN (RFC 4511 §4.9; measured on OpenLDAP and AD, ldap-targets.md §7).
  const respelled = !sameDnSpelling(rdnOf(last.dn), rdnOf(after.dn));
  if (actions.rename && (!sameDn(last.dn, after.dn) || respelled)) {
    const target = parseDn(after.dn);
    const newRdn = formatRdn(target[0] ?? []);
    const moved = !sameDn(parentDn(last.dn), parentDn(after.dn));
    ops.push({ kind: "modifyDN", dn: last.dn, newRdn, ...(moved ? { newSuperior: parentDn(after.dn) } : {}) });
    // deleteOldRdn: the old RDN values go, the new ones arrive (RFC 4511 §4.9).
    for (const ava of parseDn(last.dn)[0] ?? []) {
      const key = Object.keys(state).find((k) => k.toLowerCase() === ava.type.toLowerCase());
      if (key) state[key] = (state[key] ?? []).filter((v) => v.toLowerCase() !== ava.value.toLowerCase());
    }
    dn = after.dn;
    written.dn = dn;
  }

  // 2. Mapped attributes: replace only those that changed. The RDN attribute changes only through
  //    modifyDN (AD answers a modify of it with 67 notAllowedOnRDN; RFC 4511 §4.6 forbids removing
  //    the RDN value), so it is left out; so are the attributes the planner owns.
  if (actions.update) {
    const mapped = withRdn({ dn, attributes: after.attributes });
    const invalid = preset.validate(mapped);
    if (invalid) return { error: `group rule ${rule.name}: ${invalid}` };
    const naming = new Set((parseDn(dn)[0] ?? []).map((a) => a.type.toLowerCase()));
    const owned = new Set(["objectclass", "member", "uniquemember", "grouptype"]);
    const changes: LdapModification[] = [];
    for (const [name, values] of Object.entries(after.attributes)) {
      const key = name.toLowerCase();
      if (naming.has(key) || owned.has(key)) continue;
      const prevKey = Object.keys(state).find((k) => k.toLowerCase() === key);
      const prev = prevKey === undefined ? [] : (state[prevKey] ?? []);
      if (sameSet(prev, values)) continue;
      changes.push({ operation: "replace", attribute: name, values: [...values] });
    }
    if (changes.length > 0) ops.push({ kind: "modify", dn, changes });
    written.attributes = copy(after.attributes);
  }

  // 3. Memberships.
  if (actions.members) {
    const member = planMembers(input, dn, last);
    if ("deleteGroup" in member) return { ops: [...ops, { kind: "delete", dn }], written: null };
    ops.push(...member.ops);
    written.placeholder = member.placeholder;
    if (member.memberCount === undefined) delete written.memberCount;
    else written.memberCount = member.memberCount;
  }
  return { ops, written };
}

/**
 * Member ops in an order that never leaves a must-have-member group empty (RFC 4519 §3.5):
 * real adds first, then the placeholder when the last member is about to leave, then removals,
 * then the placeholder's removal once a real member is in.
 */
function planMembers(
  input: GroupPlanInput,
  dn: string,
  last: WrittenGroup,
): { ops: LdapOp[]; placeholder: boolean; memberCount?: number } | { deleteGroup: true } {
  const { rule } = input;
  const attr = rule.memberAttribute;
  // A DN in both lists is a net no-op.
  const addKeys = new Set(input.membersAdded.map(dnKey));
  const both = new Set(input.membersRemoved.map(dnKey).filter((k) => addKeys.has(k)));
  const added = memberList(input.membersAdded, rule.placeholderDn, both);
  const removed = memberList(input.membersRemoved, rule.placeholderDn, both);
  const removedKeys = new Set(removed.map(dnKey));
  const maybeHeld = memberList(input.membersMaybeHeld ?? [], rule.placeholderDn, new Set([...addKeys, ...removedKeys]));

  const derived = last.memberCount === undefined ? undefined : Math.max(0, last.memberCount + added.length - removed.length);
  const count = input.memberCount ?? derived;
  // With adds in this change there is at least one real member afterwards (adds are not removed).
  const mayBeEmpty = added.length === 0 && (count === undefined || count === 0);

  const ops: LdapOp[] = [...respellOps(rule, dn, input.membersRespelled ?? []), ...memberOps(dn, attr, "add", added)];
  let placeholder = last.placeholder;

  if (rule.needsMember && removed.length > 0 && mayBeEmpty && !placeholder) {
    // emptyGroups: skip keeps groups only while they have members: the last one leaving deletes
    // the group (re-created with its members when one arrives), if deleting is allowed at all.
    if (rule.emptyGroups === "skip" && rule.actions.delete && count === 0) return { deleteGroup: true };
    // The placeholder goes in BEFORE the last member leaves (deleting the last value of a MUST
    // attribute is an objectClassViolation, RFC 4511 §4.6 / RFC 4519 §3.5).
    ops.push(memberOp(dn, attr, "add", [rule.placeholderDn]));
    placeholder = true;
  }
  ops.push(...memberOps(dn, attr, "delete", [...removed, ...maybeHeld]));
  // The placeholder leaves only AFTER a real member is in (or at once where groups may be empty).
  const realMemberAfter = added.length > 0 || (count !== undefined && count > 0);
  if (placeholder && (realMemberAfter || !rule.needsMember)) {
    ops.push(memberOp(dn, attr, "delete", [rule.placeholderDn]));
    placeholder = false;
  }
  return count === undefined ? { ops, placeholder } : { ops, placeholder, memberCount: count };
}

/**
 * A member value in its entry's new spelling: delete the old value and add the new one in one
 * modify, which the server applies atomically (RFC 4511 §4.6), so the member is never missing and
 * a must-have-member group never empty. OpenLDAP matches the delete with distinguishedNameMatch, so
 * it removes the value whichever spelling the group holds (slapo-refint may have rewritten it
 * already; measured, ldap-targets.md §7). AD keeps member values pointing at the member object and
 * shows its current DN itself (measured), so nothing is sent there.
 */
function respellOps(rule: CompiledGroupRule, dn: string, respelled: { from: string; to: string }[]): LdapOp[] {
  if (rule.preset.activeDirectory) return [];
  const attribute = rule.memberAttribute;
  return respelled.map(({ from, to }) => ({
    kind: "modify",
    dn,
    changes: [
      { operation: "delete", attribute, values: [from] },
      { operation: "add", attribute, values: [to] },
    ],
  }));
}

function sameSet(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const [x, y] = [[...a].sort(), [...b].sort()];
  return x.every((v, i) => v === y[i]);
}
