/**
 * The dry run behind `scimbridge preview` (issue 4): for one user and each rule, what the delivery
 * worker would decide and send right now — the event (deliveryEvent, shared with the worker), the
 * DN and the planned LDAP operations (planUser against what was last written) — without sending
 * anything. Passwords are never opened: a pending one is only reported as pending.
 */
import { isTargetSecure, type TargetConfig } from "../rules/config.js";
import { mapUser, matchesRule, type CompiledRule } from "../rules/mapping.js";
import type { LdapOp, LdapValue } from "../planning/ops.js";
import { planUser, type PlanEvent, type WrittenEntry } from "../planning/planner.js";
import { deliveryEvent } from "./user-delivery.js";

/** What the sync state holds for (user, rule), as far as the preview needs it. */
export interface PreviewState {
  /** sync_state.state: pending, retrying, in_sync, failed, out_of_scope. */
  state?: string;
  written?: WrittenEntry;
  /** A sealed password waits to be delivered with the next upsert. */
  passwordPending?: boolean;
}

export interface RulePreview {
  rule: string;
  target: string;
  matches: boolean;
  event: PlanEvent;
  /** The entry's DN after the ops (or where it stays); absent when there is no entry. */
  dn?: string;
  ops: LdapOp[];
  /** Delivery state for (user, rule), or undefined when never fanned out to this rule. */
  state?: string;
  passwordPending: boolean;
  /** Mapping or planning problem: what the worker would record as a permanent failure. */
  error?: string;
}

export async function previewUser(o: {
  rules: CompiledRule[];
  targets: Pick<TargetConfig, "name" | "urls" | "startTls">[];
  /** The user in wire shape (as the worker reads it), or undefined when deleted. */
  user: Record<string, unknown> | undefined;
  stateOf: (rule: string) => PreviewState | undefined;
}): Promise<RulePreview[]> {
  const out: RulePreview[] = [];
  for (const rule of o.rules) {
    const st = o.stateOf(rule.name);
    const written = st?.written;
    const event = deliveryEvent(rule, o.user);
    const target = o.targets.find((t) => t.name === rule.target);
    const base = {
      rule: rule.name,
      target: rule.target,
      matches: o.user !== undefined && matchesRule(rule, o.user),
      event,
      state: st?.state,
      passwordPending: Boolean(st?.passwordPending),
    };
    if (event !== "upsert" && !written) {
      // As the worker: never written by this rule, nothing to deprovision.
      out.push({ ...base, ops: [] });
      continue;
    }
    try {
      const plan = planUser({
        rule,
        event,
        lastWritten: written,
        targetSecure: target ? isTargetSecure(target) : false,
        after: event === "upsert" ? await mapUser(rule, o.user!) : undefined,
      });
      if ("error" in plan) out.push({ ...base, dn: written?.dn, ops: [], error: plan.error });
      else out.push({ ...base, ...(plan.dn ? { dn: plan.dn } : {}), ops: plan.ops });
    } catch (e) {
      out.push({ ...base, dn: written?.dn, ops: [], error: e instanceof Error ? e.message : String(e) });
    }
  }
  return out;
}

const SECRET_ATTRIBUTE = /^(userPassword|unicodePwd)$/i;

/** A value for printing: bytes as `<binary N bytes>`, passwords never. */
function printable(attribute: string, v: LdapValue): string {
  if (Buffer.isBuffer(v)) return `<binary ${v.length} bytes>`;
  return SECRET_ATTRIBUTE.test(attribute) ? "<redacted>" : v;
}

/** An op with printable values (JSON-safe). */
export function printableOp(op: LdapOp): Record<string, unknown> {
  switch (op.kind) {
    case "add":
      return { ...op, attributes: Object.fromEntries(Object.entries(op.attributes).map(([a, vs]) => [a, vs.map((v) => printable(a, v))])) };
    case "modify":
      return { ...op, changes: op.changes.map((c) => ({ ...c, values: c.values.map((v) => printable(c.attribute, v)) })) };
    default:
      return { ...op };
  }
}

export function printablePreview(p: RulePreview): Record<string, unknown> {
  return { ...p, ops: p.ops.map(printableOp) };
}

/** Human-readable lines, one block per rule. */
export function formatPreview(previews: RulePreview[]): string[] {
  const lines: string[] = [];
  for (const p of previews) {
    lines.push(`rule ${p.rule} (target ${p.target}): ${p.matches ? "matches" : "does not match"}; event ${p.event}; state ${p.state ?? "never delivered"}`);
    lines.push(`  dn: ${p.dn ?? "(no entry)"}`);
    if (p.error) lines.push(`  error: ${p.error}`);
    if (!p.ops.length && !p.error) lines.push("  ops: none");
    for (const op of p.ops) lines.push(...formatOp(op).map((l) => `  ${l}`));
    if (p.passwordPending) lines.push("  (a pending password would also be set; not shown)");
  }
  return lines;
}

function formatOp(op: LdapOp): string[] {
  switch (op.kind) {
    case "add":
      return [`add ${op.dn}`, ...Object.entries(op.attributes).flatMap(([a, vs]) => vs.map((v) => `  ${a}: ${printable(a, v)}`))];
    case "modify":
      return [`modify ${op.dn}`, ...op.changes.map((c) => `  ${c.operation} ${c.attribute}: ${c.values.length ? c.values.map((v) => printable(c.attribute, v)).join(", ") : "(no values)"}`)];
    case "modifyDN":
      return [`modifyDN ${op.dn} -> ${op.newRdn}${op.newSuperior ? `,${op.newSuperior}` : ""}`];
    case "delete":
      return [`delete ${op.dn}`];
    case "setBits":
      return [`setBits ${op.dn} ${op.attribute}: set 0x${op.set.toString(16)} clear 0x${op.clear.toString(16)}`];
  }
}
