/**
 * The rules one delivery worker serves, built once: configured user and group rules, and rules
 * removed from the config since they were last seen (compiled from their last-seen config, so their
 * entries can be deprovisioned per `onRuleRemoved`). Every lookup the scheduler, the fan-out and
 * the deliveries make goes through here.
 */
import type { FilterNode } from "../../schemas/filter/ast.js";
import type { DeliverableGroupRule } from "../rules/group-rule.js";
import type { CompiledRule } from "../rules/mapping.js";

export interface RuleSetInput {
  users: CompiledRule[];
  groups?: DeliverableGroupRule[];
  removedUsers?: CompiledRule[];
  removedGroups?: DeliverableGroupRule[];
}

/** A user rule selecting users by group membership, and whether it reads groups.display. */
export interface GroupBasedRule {
  rule: CompiledRule;
  display: boolean;
}

type AnyRule = CompiledRule | DeliverableGroupRule;

export class RuleSet {
  /** Configured user rules, in config order (the fan-out marks each). */
  readonly users: readonly CompiledRule[];
  /** Configured group rules, in config order. */
  readonly groups: readonly DeliverableGroupRule[];
  /** Removed rules, users and groups. */
  readonly removed: readonly AnyRule[];
  /** User rules whose filter reads `groups`: membership changes move users in or out of them. */
  readonly groupBased: readonly GroupBasedRule[];
  private readonly userByName: Map<string, { rule: CompiledRule; removed: boolean }>;
  private readonly groupByName: Map<string, { rule: DeliverableGroupRule; removed: boolean }>;
  private readonly namesOfTarget = new Map<string, { users: string[]; groups: string[] }>();

  constructor(input: RuleSetInput) {
    const removedUsers = input.removedUsers ?? [];
    const removedGroups = input.removedGroups ?? [];
    this.users = input.users;
    this.groups = input.groups ?? [];
    this.removed = [...removedUsers, ...removedGroups];
    const byName = <R extends AnyRule>(configured: readonly R[], removed: readonly R[]) =>
      new Map<string, { rule: R; removed: boolean }>([...configured.map((r) => [r.name, { rule: r, removed: false }] as const), ...removed.map((r) => [r.name, { rule: r, removed: true }] as const)]);
    this.userByName = byName(input.users, removedUsers);
    this.groupByName = byName(this.groups, removedGroups);
    for (const r of [...input.users, ...removedUsers]) this.onTarget(r.target).users.push(r.name);
    for (const r of [...this.groups, ...removedGroups]) this.onTarget(r.target).groups.push(r.name);
    this.groupBased = input.users.flatMap((rule) => {
      const reads = filterReadsGroups(rule.filter);
      return reads.any ? [{ rule, display: reads.display }] : [];
    });
  }

  private onTarget(target: string): { users: string[]; groups: string[] } {
    let t = this.namesOfTarget.get(target);
    if (!t) this.namesOfTarget.set(target, (t = { users: [], groups: [] }));
    return t;
  }

  /** A user rule, configured or removed. */
  user(name: string): { rule: CompiledRule; removed: boolean } | undefined {
    return this.userByName.get(name);
  }

  /** A group rule, configured or removed. */
  group(name: string): { rule: DeliverableGroupRule; removed: boolean } | undefined {
    return this.groupByName.get(name);
  }

  /** Whether `name` is a rule removed from the config. */
  isRemoved(name: string): boolean {
    return Boolean(this.userByName.get(name)?.removed ?? this.groupByName.get(name)?.removed);
  }

  /** A removed rule by name (its onRuleRemoved action decides what happens to its entries). */
  removedRule(name: string): AnyRule | undefined {
    const r = this.userByName.get(name) ?? this.groupByName.get(name);
    return r?.removed ? r.rule : undefined;
  }

  /** User rules (configured and removed) writing to `target`: where member DNs come from. */
  userRulesOn(target: string): readonly string[] {
    return this.namesOfTarget.get(target)?.users ?? [];
  }

  /** Group rules (configured and removed) writing to `target`. */
  groupRulesOn(target: string): readonly string[] {
    return this.namesOfTarget.get(target)?.groups ?? [];
  }

  /** Every rule writing to `target`: the rows the scheduler takes for it. */
  rulesOn(target: string): string[] {
    return [...this.userRulesOn(target), ...this.groupRulesOn(target)];
  }

  /** Every rule name, configured and removed. */
  allNames(): string[] {
    return [...this.userByName.keys(), ...this.groupByName.keys()];
  }

  /** Whether membership changes need fanning out (group rules, or user rules selecting by group). */
  get readsMemberships(): boolean {
    return this.groups.length > 0 || this.groupBased.length > 0;
  }
}

/** Whether a user rule's filter reads `groups` (so membership changes move users in or out). */
function filterReadsGroups(node: FilterNode | undefined): { any: boolean; display: boolean } {
  if (!node) return { any: false, display: false };
  switch (node.kind) {
    case "and":
    case "or": {
      const [l, r] = [filterReadsGroups(node.left), filterReadsGroups(node.right)];
      return { any: l.any || r.any, display: l.display || r.display };
    }
    case "not":
      return filterReadsGroups(node.expr);
    case "valuePath": {
      const on = node.path.toLowerCase().split(":").pop() === "groups";
      return { any: on, display: on && JSON.stringify(node.filter).toLowerCase().includes('"display"') };
    }
    default: {
      const path = node.path.toLowerCase().split(":").pop()!;
      return { any: path.split(".")[0] === "groups", display: path === "groups.display" };
    }
  }
}
