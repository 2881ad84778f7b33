/**
 * Users in the delivery worker: one delivery of a (user, user rule) converges the entry to the
 * user's mapped state, map → plan (pure) → execute (idempotent), and records the outcome through
 * the worker. Deleting an entry waits until its groups dropped it, and a new DN brings the user's
 * groups back (group-delivery.ts).
 */
import type { SyncStateRow } from "../../db/sync.js";
import type { ResourceKind } from "../../schemas/registry.js";
import { isTargetSecure } from "../rules/config.js";
import type { GroupDelivery, WorkerServices } from "./group-delivery.js";
import { sameDnSpelling } from "../ldap/dn.js";
import { executeOps, LdapDeliveryError } from "../ldap/executor.js";
import { claimDn } from "./dn-claims.js";
import { mapUser, matchesRule, type CompiledRule } from "../rules/mapping.js";
import { planUser, type PlanEvent, type PlanInput, type WrittenEntry } from "../planning/planner.js";
import { openSecret } from "./secrets.js";

/** What a delivery does for (rule, resource): the same decision the preview shows. */
export function deliveryEvent(rule: CompiledRule, resource: Record<string, unknown> | undefined, ruleRemoved = false): PlanEvent {
  if (ruleRemoved) return "ruleRemoved";
  if (!resource) return "delete";
  return matchesRule(rule, resource) ? "upsert" : "leftFilter";
}

export class UserDelivery {
  private readonly rulesByName: Map<string, CompiledRule>;
  private readonly removedByName: Map<string, CompiledRule>;

  constructor(
    private readonly w: WorkerServices,
    rules: { users: CompiledRule[]; removedUsers: CompiledRule[] },
    private readonly groups: GroupDelivery,
  ) {
    this.rulesByName = new Map(rules.users.map((r) => [r.name, r]));
    this.removedByName = new Map(rules.removedUsers.map((r) => [r.name, r]));
  }

  async deliverUser(row: SyncStateRow): Promise<void> {
    const removed = this.removedByName.get(row.rule);
    const rule = this.rulesByName.get(row.rule) ?? removed!;
    const target = this.w.options.targets.get(row.target)!;
    const kind = row.resourceType as ResourceKind;
    const resource = removed ? undefined : this.w.options.readResource(kind, row.resourceId);
    const written = row.written ? (JSON.parse(row.written) as WrittenEntry) : undefined;
    const started = this.w.now().toISOString();
    const t0 = performance.now(); // monotonic, unlike the injectable clock above
    const event = deliveryEvent(rule, resource, removed !== undefined);

    if (event !== "upsert" && !written) {
      // Never written by this rule: nothing to deprovision.
      this.w.finish(row, { state: event === "leftFilter" ? "out_of_scope" : "remove" });
      return;
    }
    let password: string | undefined;
    try {
      password = row.secret && event === "upsert" ? openSecret(this.w.options.secretKey, row.secret, row.resourceId) : undefined;
      const input: PlanInput = {
        rule,
        event,
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
      if (plan.dn !== undefined && plan.written !== null && !(await claimDn(this.w, row, plan.dn, started))) return;
      let dn = plan.dn ?? written?.dn;
      let directoryId = row.directoryId ?? undefined;
      let recreated = false;
      const deleting = plan.ops.find((op) => op.kind === "delete");
      if (deleting && this.groups.evictFromGroups(row, started, deleting.dn)) return;
      if (plan.ops.length) {
        const result = await executeOps(target.connection, plan.ops, {
          createIfMissing: rule.actions.create,
          recreate,
          recreateAfter: recreateOps.slice(1),
          correlation: rule.correlationAttribute ? { attribute: rule.correlationAttribute } : undefined,
          readDirectoryId: !directoryId && plan.written !== null,
        }).catch((e: unknown) => {
          this.w.reportLdapWrites(row, plan.ops, e);
          throw e;
        });
        this.w.reportLdapWrites(row, plan.ops);
        dn = plan.written === null ? undefined : result.dn;
        directoryId = result.directoryId ?? directoryId;
        recreated = result.recreated;
      }
      // A removed rule's entry left in place (onRuleRemoved none or disable) is no longer ours to
      // track: the row goes, and with the last one the rule is forgotten.
      if (plan.written === null || event === "ruleRemoved") this.w.finish(row, { state: "remove" });
      else {
        // A new or changed DN: the groups holding (or waiting for) this user look again, in the
        // same transaction, so a crash cannot lose the membership (no refint in OpenLDAP). A DN
        // changed in case only counts: the groups' values follow its spelling (ldap-targets.md §7).
        const moved = dn !== undefined && (row.dn === null || !sameDnSpelling(row.dn, dn)) ? dn : undefined;
        // An entry added again (it had gone from the directory) without the password it had: the
        // password was erased once delivered, so the account cannot log in until the identity
        // provider sends one. Said as a state of its own, never as in_sync.
        const lostPassword = recreated && password === undefined && rule.actions.password && written?.passwordSet === true;
        const finished = lostPassword && plan.written ? { ...plan.written, passwordSet: false } : (plan.written ?? undefined);
        if (lostPassword) this.w.options.logger.warn({ rule: rule.name, id: row.resourceId, dn }, "entry added again without its password: it needs a new one from the identity provider");
        this.w.finish(row, { state: lostPassword ? "needs_password" : "in_sync", written: finished, dn, directoryId, deliveredSecret: password !== undefined, at: started }, () => {
          if (moved) this.groups.refreshGroupsOf(row.resourceId, row.target);
        });
      }
      this.w.options.logger.debug({ rule: rule.name, id: row.resourceId, ops: plan.ops.length, event }, "delivered");
      this.w.reportDelivery(row.target, "success", t0);
    } catch (e) {
      this.w.fail(row, e, started);
      // Same classification as fail(): only an LdapDeliveryError marked transient is retried as such.
      this.w.reportDelivery(row.target, e instanceof LdapDeliveryError && e.transient ? "transient_failure" : "permanent_failure", t0);
    }
  }
}
