/**
 * Groups in the delivery worker: one delivery of a (group, group rule) converges the entry to the
 * group's mapped state, and the dirty member pairs (memberships.ts) become one single-value modify
 * each (RFC 4511 §4.6). A member whose own entry is not in the directory yet waits (AD rejects
 * unknown member DNs; OpenLDAP would accept them silently), and its delivery brings the group back.
 */
import type { MemberSyncRow } from "../../db/member-sync.js";
import type { StoreQueries } from "../../db/store.js";
import type { SyncStateRow } from "../../db/sync.js";
import { planGroup, type GroupPlanEvent, type WrittenGroup } from "../planning/group-planner.js";
import type { LdapOp } from "../planning/ops.js";
import { mapGroup, matchesGroupRule } from "../rules/group-rule.js";
import { LdapDeliveryError } from "../ldap/executor.js";
import type { DeliveryContext } from "./context.js";
import { claimDn } from "./dn-claims.js";
import { MEMBER_BATCH, type Memberships } from "./memberships.js";
import type { Outcome } from "./outcome.js";
import { executeReported, runDelivery } from "./template.js";

/** Members a preview of a group entering the directory plans with (the status API). */
const PREVIEW_MEMBERS = 1000;

export async function deliverGroup(ctx: DeliveryContext, memberships: Memberships, row: SyncStateRow): Promise<Outcome> {
  const { rule, removed } = ctx.rules.group(row.rule)!;
  const target = ctx.targets.get(row.target)!;
  const group = removed ? undefined : await ctx.read("Group", row.resourceId, { members: rule.filterNeedsMembers });
  const written = row.written ? (JSON.parse(row.written) as WrittenGroup) : undefined;
  const started = ctx.now().toISOString();
  const event: GroupPlanEvent = removed ? "ruleRemoved" : !group ? "delete" : matchesGroupRule(rule, group) ? "upsert" : "leftFilter";
  const forget = (tx: StoreQueries) => tx.memberSync.forgetGroup(rule.name, row.resourceId);
  return runDelivery(started, {
    event,
    written,
    // No entry, so no pairs to keep: a group entering the rule later takes its whole membership
    // (Memberships.delta marks it all), and a rule that never selects a group keeps no rows for it.
    nothingToUndo: () => ({ kind: "finished", state: event === "leftFilter" ? "out_of_scope" : "remove", also: forget }),
    async converge(): Promise<Outcome> {
      let settles: { member: MemberSyncRow; dn: string | null }[] = [];
      let more = false;
      let plan;
      if (event === "upsert") {
        const after = await mapGroup(rule, group!);
        const delta = await memberships.delta(rule, row, written);
        settles = delta.settles;
        more = delta.more;
        plan = planGroup({ rule, event, after, lastWritten: written, membersAdded: delta.added, membersRemoved: delta.removed, membersMaybeHeld: delta.maybeHeld, membersRespelled: delta.respelled });
      } else {
        plan = planGroup({ rule, event, lastWritten: written, membersAdded: [], membersRemoved: [] });
      }
      if ("error" in plan) throw new LdapDeliveryError(plan.error, { transient: false, opIndex: -1 });
      // A group renamed away from a name another group then takes: the new one waits for the
      // entry to move (dn-claims.ts), it never merges into it.
      if (plan.written?.dn !== undefined && plan.ops.length > 0) {
        const claimed = await claimDn(ctx, row, plan.written.dn, started);
        if (claimed !== true) return claimed;
      }
      let dn = plan.written?.dn ?? written?.dn;
      let directoryId = row.directoryId ?? undefined;
      if (plan.ops.length) {
        const result = await executeReported(ctx, row, target, plan.ops, { createIfMissing: false, readDirectoryId: !directoryId && plan.written !== null });
        dn = plan.written === null ? undefined : result.dn;
        directoryId = result.directoryId ?? directoryId;
      }
      ctx.logger.debug({ rule: rule.name, id: row.resourceId, ops: plan.ops.length, event }, "group delivered");
      const settle = (tx: StoreQueries, s: { member: MemberSyncRow; dn: string | null }) => tx.memberSync.settle(rule.name, row.resourceId, s.member, s.dn);
      const settleAll = async (tx: StoreQueries, which: { member: MemberSyncRow; dn: string | null }[]) => {
        for (const s of which) await settle(tx, s);
      };
      // Deleted or left in place (onRuleRemoved none): either way no longer tracked.
      if (event === "ruleRemoved") return { kind: "finished", state: "remove", also: forget };
      if (plan.written === null && written) {
        // The entry is gone (deprovisioned, or emptyGroups "skip" after the last member left).
        if (event !== "upsert") return { kind: "finished", state: "remove", also: forget };
        return {
          kind: "finished",
          state: "in_sync",
          also: async (tx) => {
            await settleAll(tx, settles.filter((s) => s.dn === null));
            await tx.sync.update(row.resourceType, row.resourceId, row.rule, { written: null, dn: null, directoryId: null });
          },
        };
      }
      const created = plan.written !== null && (written !== undefined || plan.ops.length > 0);
      // emptyGroups "skip": not created until a member can be written (a member's delivery brings
      // the group back here).
      if (!created) return { kind: "finished", state: "in_sync", more, also: (tx) => settleAll(tx, settles) };
      return {
        kind: "finished",
        state: "in_sync",
        written: plan.written ?? undefined,
        dn,
        directoryId,
        at: started,
        more,
        also: async (tx) => {
          await settleAll(tx, settles);
          // A user whose entry waits to be deleted until its groups drop it goes on now, not at
          // its next backoff (Memberships.evictFromGroups).
          for (const s of settles) if (s.member.evict && s.dn === null) await tx.sync.retryNow("User", s.member.memberId, row.target, started);
        },
      };
    },
  });
}

/**
 * What the next delivery of (group, rule) would send, without sending or recording anything:
 * the status API's "planned operations". A group not yet in the directory is planned with its
 * whole current membership (up to PREVIEW_MEMBERS); an existing one with its pending pairs.
 */
export async function previewGroup(
  ctx: DeliveryContext,
  memberships: Memberships,
  groupId: string,
  ruleName: string,
): Promise<{ event: GroupPlanEvent; dn?: string | undefined; ops: LdapOp[]; error?: string | undefined }> {
  const found = ctx.rules.group(ruleName);
  if (!found) return { event: "ruleRemoved", ops: [], error: `no group rule ${ruleName}` };
  const { rule, removed } = found;
  const row = await ctx.store.sync.get("Group", groupId, ruleName);
  const group = removed ? undefined : await ctx.read("Group", groupId, { members: rule.filterNeedsMembers });
  const written = row?.written ? (JSON.parse(row.written) as WrittenGroup) : undefined;
  const event: GroupPlanEvent = removed ? "ruleRemoved" : !group ? "delete" : matchesGroupRule(rule, group) ? "upsert" : "leftFilter";
  try {
    if (event !== "upsert") {
      const plan = planGroup({ rule, event, lastWritten: written, membersAdded: [], membersRemoved: [] });
      return "error" in plan ? { event, ops: [], error: plan.error } : { event, dn: written?.dn, ops: plan.ops };
    }
    const after = await mapGroup(rule, group!);
    const pairs: MemberSyncRow[] = !rule.actions.members
      ? []
      : written
        ? await ctx.store.memberSync.dirtyRows(rule.name, groupId, MEMBER_BATCH)
        : (await ctx.store.memberSync.memberIds(groupId)).slice(0, PREVIEW_MEMBERS).map((memberId) => ({ memberId, dn: null, dirty: 0, evict: false }));
    const delta = await memberships.classify(rule.target, groupId, pairs, written);
    const plan = planGroup({ rule, event, after, lastWritten: written, membersAdded: delta.added, membersRemoved: delta.removed, membersMaybeHeld: delta.maybeHeld, membersRespelled: delta.respelled });
    return "error" in plan ? { event, dn: after.dn, ops: [], error: plan.error } : { event, dn: after.dn, ops: plan.ops };
  } catch (e) {
    return { event, ops: [], error: e instanceof Error ? e.message : String(e) };
  }
}
