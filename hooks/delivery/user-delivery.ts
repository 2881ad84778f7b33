/**
 * Users in the delivery worker: one delivery of a (user, user rule) converges the entry to the
 * user's mapped state, map → plan (pure) → execute (idempotent), and returns its outcome. Deleting
 * an entry waits until its groups dropped it, and a new DN brings the user's groups back
 * (memberships.ts).
 */
import type { SyncStateRow } from "../../db/sync.js";
import { isTargetSecure } from "../rules/config.js";
import { sameDnSpelling } from "../ldap/dn.js";
import { LdapDeliveryError } from "../ldap/executor.js";
import { mapUser, matchesRule, type CompiledRule } from "../rules/mapping.js";
import { planUser, type PlanEvent, type PlanInput, type WrittenEntry } from "../planning/planner.js";
import type { DeliveryContext } from "./context.js";
import { claimDn } from "./dn-claims.js";
import type { Memberships } from "./memberships.js";
import type { Outcome } from "./outcome.js";
import { openSecret } from "./secrets.js";
import { executeReported, runDelivery } from "./template.js";

/** What a delivery does for (rule, resource): the same decision the preview shows. */
export function deliveryEvent(rule: CompiledRule, resource: Record<string, unknown> | undefined, ruleRemoved = false): PlanEvent {
  if (ruleRemoved) return "ruleRemoved";
  if (!resource) return "delete";
  return matchesRule(rule, resource) ? "upsert" : "leftFilter";
}

export async function deliverUser(ctx: DeliveryContext, memberships: Memberships, row: SyncStateRow): Promise<Outcome> {
  const { rule, removed } = ctx.rules.user(row.rule)!;
  const target = ctx.targets.get(row.target)!;
  const resource = removed ? undefined : await ctx.read("User", row.resourceId);
  const written = row.written ? (JSON.parse(row.written) as WrittenEntry) : undefined;
  const started = ctx.now().toISOString();
  const event = deliveryEvent(rule, resource, removed);
  return runDelivery(started, {
    event,
    written,
    // Never written by this rule: nothing to deprovision.
    nothingToUndo: () => ({ kind: "finished", state: event === "leftFilter" ? "out_of_scope" : "remove" }),
    async converge(): Promise<Outcome> {
      const password = row.secret && event === "upsert" ? openSecret(ctx.secretKey, row.secret, row.resourceId) : undefined;
      const input: PlanInput = {
        rule,
        event: event,
        lastWritten: written,
        password,
        targetSecure: isTargetSecure(target.config),
        after: event === "upsert" ? await mapUser(rule, resource!) : undefined,
      };
      const plan = planUser(input);
      if ("error" in plan) throw new LdapDeliveryError(plan.error, { transient: false, opIndex: -1 });
      const recreatePlan = written && input.after && rule.actions.create ? planUser({ ...input, lastWritten: undefined }) : undefined;
      const recreateOps = recreatePlan && !("error" in recreatePlan) ? recreatePlan.ops : [];
      const recreate = recreateOps[0]?.kind === "add" ? recreateOps[0] : undefined;
      // Each resource owns its own entry: one that would take a DN another resource still holds
      // waits for it to leave, or fails if it stays (it is never adopted).
      if (plan.dn !== undefined && plan.written !== null) {
        const claimed = await claimDn(ctx, row, plan.dn, started);
        if (claimed !== true) return claimed;
      }
      let dn = plan.dn ?? written?.dn;
      let directoryId = row.directoryId ?? undefined;
      let recreated = false;
      const deleting = plan.ops.find((op) => op.kind === "delete");
      if (deleting) {
        const evicting = await memberships.evictFromGroups(row, started, deleting.dn);
        if (evicting) return evicting;
      }
      if (plan.ops.length) {
        const result = await executeReported(ctx, row, target, plan.ops, {
          createIfMissing: rule.actions.create,
          recreate,
          recreateAfter: recreateOps.slice(1),
          correlation: rule.correlationAttribute ? { attribute: rule.correlationAttribute } : undefined,
          readDirectoryId: !directoryId && plan.written !== null,
        });
        dn = plan.written === null ? undefined : result.dn;
        directoryId = result.directoryId ?? directoryId;
        recreated = result.recreated;
      }
      ctx.logger.debug({ rule: rule.name, id: row.resourceId, ops: plan.ops.length, event }, "delivered");
      // A removed rule's entry left in place (onRuleRemoved none or disable) is no longer ours to
      // track: the row goes, and with the last one the rule is forgotten.
      if (plan.written === null || event === "ruleRemoved") return { kind: "finished", state: "remove" };
      // A new or changed DN: the groups holding (or waiting for) this user look again, in the
      // same commit, so a crash cannot lose the membership (no refint in OpenLDAP). A DN changed in
      // case only counts: the groups' values follow its spelling (ldap-targets.md §7).
      const moved = dn !== undefined && (row.dn === null || !sameDnSpelling(row.dn, dn));
      // An entry added again (it had gone from the directory) without the password it had: the
      // password was erased once delivered, so the account cannot log in until the identity
      // provider sends one. Said as a state of its own, never as in_sync.
      const lostPassword = recreated && password === undefined && rule.actions.password && written?.passwordSet === true;
      if (lostPassword) ctx.logger.warn({ rule: rule.name, id: row.resourceId, dn }, "entry added again without its password: it needs a new one from the identity provider");
      return {
        kind: "finished",
        state: lostPassword ? "needs_password" : "in_sync",
        written: lostPassword ? { ...plan.written, passwordSet: false } : plan.written,
        dn,
        directoryId,
        deliveredSecret: password !== undefined,
        at: started,
        also: moved ? (tx) => memberships.refreshGroupsOf(tx, row.resourceId, row.target) : undefined,
      };
    },
  });
}
