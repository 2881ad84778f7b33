/**
 * Rules of one target that can write under the same part of the directory (pure). Reconcile reads
 * each rule's base (ruleBase), so there each rule sees the other's entries: it reports them as
 * unmanaged and deletes only its own leftovers (hooks/entry-ownership.ts). `config check` warns
 * about such pairs so the overlap is a choice, not a surprise.
 */
import { dnKey } from "../ldap/dn.js";
import { ruleBase } from "../reconcile/reconcile.js";
import type { CompiledRule } from "./mapping.js";

export interface RuleOverlap {
  target: string;
  rules: [string, string];
  /** Where both can write: the deeper of the two bases. */
  base: string;
}

type RuleLike = Pick<CompiledRule, "name" | "target" | "dn">;

/** Whether `inner` is `outer` or below it (normalised DNs; "" is the root). */
function within(inner: string, outer: string): boolean {
  return outer === "" || inner === outer || inner.endsWith(`,${outer}`);
}

/**
 * Pairs of rules of one target whose reconcile bases meet: the same base, or one base inside
 * another rule's subtree (a sub-scope base contains the one-scope bases beneath it). Two one-scope
 * bases at different places never meet: each reads only its base's children.
 */
export function overlappingRules(rules: RuleLike[]): RuleOverlap[] {
  const bases = rules.map((r) => {
    const { base, scope } = ruleBase(r);
    return { rule: r, base, scope, key: dnKey(base) };
  });
  const out: RuleOverlap[] = [];
  for (let i = 0; i < bases.length; i++) {
    for (let j = i + 1; j < bases.length; j++) {
      const [a, b] = [bases[i]!, bases[j]!];
      if (a.rule.target !== b.rule.target) continue;
      const meet = a.key === b.key || (a.scope === "sub" && within(b.key, a.key)) || (b.scope === "sub" && within(a.key, b.key));
      if (!meet) continue;
      const deeper = a.key.length >= b.key.length ? a : b;
      out.push({ target: a.rule.target, rules: [a.rule.name, b.rule.name], base: deeper.base });
    }
  }
  return out;
}

/** What `config check` says about an overlap: the fact, and what reconcile will and will not do. */
export function describeOverlap(o: RuleOverlap): string {
  const [a, b] = o.rules;
  return (
    `warning: rules ${a} and ${b} (target ${o.target}) can both write under ${o.base || "the directory root"}. ` +
    `reconcile deletes only each rule's own leftovers (entries that rule wrote, recognised by DN and entryUUID/objectGUID); ` +
    `${b}'s entries are reported as unmanaged to ${a} and ${a}'s to ${b}, and are never deleted by the other rule, not even with --delete-unmanaged`
  );
}
