/**
 * The planner: pure and synchronous, from (rule, mapped entry, what was last written, event) to
 * the LDAP operations that make the directory match (issue 4). It follows PingOne's gateway
 * actions (create, update, disable, deprovision with a Remove Action, deprovision on rule
 * deletion; seed 003) and goes further where the gateway cannot: it renames and moves entries with
 * modifyDN and writes only the attributes that changed.
 * https://docs.pingidentity.com/pingone/integrations/p1_create_provisioning_connection_gateway.html
 */
import type { DeprovisionAction } from "../rules/config.js";
import { parentDn, parseDn, rdnOf, sameDn, sameDnSpelling } from "../ldap/dn.js";
import type { CompiledRule, MappedEntry } from "../rules/mapping.js";
import type { LdapModification, LdapOp, LdapValue } from "./ops.js";
import type { Preset } from "../rules/presets.js";

/** What the directory holds for a (user, rule) after our last successful delivery. */
export interface WrittenEntry {
  dn: string;
  attributes: Record<string, string[]>;
  /** Account state we last left the entry in; absent = unknown (taken as active). */
  active?: boolean;
  /** false when created without a password (AD then keeps it disabled until one arrives). */
  passwordSet?: boolean;
}

export type PlanEvent = "upsert" | "delete" | "leftFilter" | "ruleRemoved";

export interface PlanInput {
  rule: CompiledRule;
  /** Defaults to the rule's preset. */
  preset?: Preset;
  /** The user as the rule mapped it before the change (for the previous `active` when lastWritten lacks it). */
  before?: MappedEntry;
  /** The user as the rule maps it now; required for upsert. */
  after?: MappedEntry;
  lastWritten?: WrittenEntry;
  /** Cleartext password to deliver, opened from its sealed form by the worker just before planning. */
  password?: string;
  event: PlanEvent;
  /** Every connection to the target is TLS (ldaps:// or StartTLS). */
  targetSecure: boolean;
}

export type PlanResult =
  | {
      ops: LdapOp[];
      /** The entry's DN once the ops ran; absent when there is no entry. */
      dn?: string;
      /** What to store as lastWritten after all ops succeeded; null = no entry (forget the correlation). */
      written: WrittenEntry | null;
    }
  | { error: string };

const DEPROVISION_KEY = { delete: "onDelete", leftFilter: "onLeaveFilter", ruleRemoved: "onRuleRemoved" } as const;

/** Plans one user change for one rule. Never throws for bad data: problems come back as `{ error }`. */
export function planUser(input: PlanInput): PlanResult {
  const preset = input.preset ?? input.rule.preset;
  try {
    if (input.event !== "upsert") {
      return deprovision(preset, input.lastWritten, input.rule.actions.deprovision[DEPROVISION_KEY[input.event]]);
    }
    if (!input.after) return { error: "an upsert needs the mapped entry (after)" };
    return input.lastWritten ? update(input, preset, input.after, input.lastWritten) : create(input, preset, input.after);
  } catch (e) {
    // parseDn on a DN the server handed back, or a preset bug: report, don't crash the worker.
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

function deprovision(preset: Preset, last: WrittenEntry | undefined, action: DeprovisionAction): PlanResult {
  // Never written (create was off, or it never succeeded): there is nothing to remove.
  if (!last) return { ops: [], written: null };
  switch (action) {
    case "delete":
      return { ops: [{ kind: "delete", dn: last.dn }], written: null };
    case "disable":
      if (last.active === false) return { ops: [], dn: last.dn, written: last };
      return { ops: preset.disable(last.dn), dn: last.dn, written: { ...last, active: false } };
    case "none":
      return { ops: [], dn: last.dn, written: last };
  }
}

function passwordError(input: PlanInput, preset: Preset): string | undefined {
  if (preset.passwordNeedsTls && !input.targetSecure) {
    // ldap-targets.md §1.3: AD takes unicodePwd only over an encrypted connection; sending it in
    // clear would fail (53/8) at best and expose the password at worst.
    return `rule ${input.rule.name}: ${preset.name} passwords need an encrypted connection; target ${input.rule.target} is plain ldap:// without StartTLS`;
  }
  return undefined;
}

function create(input: PlanInput, preset: Preset, after: MappedEntry): PlanResult {
  const { actions } = input.rule;
  if (!actions.create) return { ops: [], written: null };
  const invalid = preset.validate(after.attributes);
  if (invalid) return { error: `rule ${input.rule.name}: ${invalid}` };
  const password = actions.password ? input.password : undefined;
  if (password !== undefined) {
    const refused = passwordError(input, preset);
    if (refused) return { error: refused };
  }
  // With disabling switched off the rule does not manage account state: new entries are enabled.
  const state = preset.create({
    dn: after.dn,
    active: actions.disable ? after.active : true,
    password,
    mustChange: actions.mustChangePassword,
  });
  const attributes: Record<string, LdapValue[]> = { objectClass: [...input.rule.objectClasses] };
  for (const [name, values] of Object.entries(after.attributes)) {
    // ldapts turns an empty list into an empty value the server rejects (ldap-targets.md §4.3).
    if (values.length > 0) attributes[name] = [...values];
  }
  Object.assign(attributes, state.attributes);
  return {
    ops: [{ kind: "add", dn: after.dn, attributes }, ...state.after],
    dn: after.dn,
    written: { dn: after.dn, attributes: copy(after.attributes), active: state.active, passwordSet: password !== undefined },
  };
}

function update(input: PlanInput, preset: Preset, after: MappedEntry, last: WrittenEntry): PlanResult {
  const { actions } = input.rule;
  const ops: LdapOp[] = [];
  let dn = last.dn;
  const written: WrittenEntry = { ...last, attributes: copy(last.attributes) };

  if (actions.update) {
    const invalid = preset.validate(after.attributes);
    if (invalid) return { error: `rule ${input.rule.name}: ${invalid}` };
    const state = byLowerName(last.attributes);
    // sameDn, not string equality: the stored DN may be the server's spelling (ldap-targets.md §5.1).
    // A case-only change of the RDN (userName Dan → dan) names the same entry but is a rename all
    // the same: modifyDN to the new spelling also rewrites the naming value (RFC 4511 §4.9), which
    // OpenLDAP and AD accept as is (measured, ldap-targets.md §7); a modify of the value alone
    // leaves the DN as it was, and AD refuses it (67).
    if (!sameDn(last.dn, after.dn) || !sameDnSpelling(rdnOf(last.dn), rdnOf(after.dn))) {
      const moved = !sameDn(parentDn(last.dn), parentDn(after.dn));
      ops.push({ kind: "modifyDN", dn: last.dn, newRdn: rdnOf(after.dn), ...(moved ? { newSuperior: parentDn(after.dn) } : {}) });
      applyRename(state, last.dn, after.dn);
      dn = after.dn;
    }
    // Naming attributes compare case-insensitively: their values changed with the modifyDN above
    // (a case-only one too), and AD rejects any modify of its RDN attribute with 67
    // notAllowedOnRDN (ldap-targets.md §1.6).
    const naming = new Set((parseDn(dn)[0] ?? []).map((a) => a.type.toLowerCase()));
    const changes = diff(state, after.attributes, naming);
    if (changes.length > 0) ops.push({ kind: "modify", dn, changes });
    written.dn = dn;
    written.attributes = copy(after.attributes);
  }

  let passwordWritten = false;
  if (input.password !== undefined && actions.password) {
    const refused = passwordError(input, preset);
    if (refused) return { error: refused };
    ops.push(...preset.setPassword(dn, input.password));
    // After the password: setting one resets the must-change mark (ldap-targets.md §1.4).
    if (actions.mustChangePassword) ops.push(...preset.mustChange(dn));
    written.passwordSet = true;
    passwordWritten = true;
  }

  const wasActive = last.active ?? input.before?.active ?? true;
  if (!after.active && wasActive && actions.disable) {
    ops.push(...preset.disable(dn));
    written.active = false;
  } else if (after.active && !wasActive && actions.enable) {
    // AD refuses to enable an account that never got a password; it stays disabled until one comes.
    if (!(preset.enableNeedsPassword && written.passwordSet === false)) {
      ops.push(...preset.enable(dn));
      written.active = true;
    }
  } else if (passwordWritten && written.active === false) {
    // A password write can lift a lock as a side effect: slapo-ppolicy removes
    // pwdAccountLockedTime on any password change, even an administrator's, and a lock sent in the
    // same modify after the password is lost too (docs/research/ldap-targets.md §2.6). So an entry
    // that stays disabled is locked again, in its own operation, after the password.
    ops.push(...preset.disable(dn));
  }
  return { ops, dn, written };
}

type AttrState = Map<string, { name: string; values: string[] }>;

function byLowerName(attrs: Record<string, string[]>): AttrState {
  const m: AttrState = new Map();
  for (const [name, values] of Object.entries(attrs)) m.set(name.toLowerCase(), { name, values: [...values] });
  return m;
}

/**
 * What modifyDN does to the entry's values: the server sends deleteOldRdn=TRUE (ldapts always
 * does, ldap-targets.md §4.4), so the old RDN values go and the new ones arrive (RFC 4511 §4.9).
 */
function applyRename(state: AttrState, oldDn: string, newDn: string): void {
  for (const ava of parseDn(oldDn)[0] ?? []) {
    const e = state.get(ava.type.toLowerCase());
    if (e) e.values = e.values.filter((v) => v.toLowerCase() !== ava.value.toLowerCase());
  }
  for (const ava of parseDn(newDn)[0] ?? []) {
    const key = ava.type.toLowerCase();
    const e = state.get(key) ?? { name: ava.type, values: [] };
    if (!e.values.some((v) => v.toLowerCase() === ava.value.toLowerCase())) e.values.push(ava.value);
    state.set(key, e);
  }
}

/**
 * `replace` with the full list for each mapped attribute whose values changed, `replace []` for one
 * that lost its values (replace, unlike delete, succeeds when the attribute is already gone,
 * ldap-targets.md §4.3). Values compare as sets, case-sensitively except for naming attributes.
 * Attributes the rule no longer maps are left alone: the rule stopped managing them.
 */
function diff(state: AttrState, after: Record<string, string[]>, caseIgnore: Set<string>): LdapModification[] {
  const changes: LdapModification[] = [];
  for (const [name, values] of Object.entries(after)) {
    const key = name.toLowerCase();
    const prev = state.get(key)?.values ?? [];
    if (sameValues(prev, values, caseIgnore.has(key))) continue;
    changes.push({ operation: "replace", attribute: name, values: [...values] });
  }
  return changes;
}

function sameValues(a: string[], b: string[], ignoreCase: boolean): boolean {
  if (a.length !== b.length) return false;
  const norm = (xs: string[]) => xs.map((x) => (ignoreCase ? x.toLowerCase() : x)).sort();
  const [x, y] = [norm(a), norm(b)];
  return x.every((v, i) => v === y[i]);
}

function copy(attrs: Record<string, string[]>): Record<string, string[]> {
  return Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, [...v]]));
}
