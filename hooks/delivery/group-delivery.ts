/**
 * Groups and memberships in the delivery worker (issue 5), kept apart from the user path:
 * - fan-out: a group change marks (group rule, group, member) pairs dirty in group_member_sync; a
 *   user who left groups (deleted) marks the pairs of the groups holding its DN; membership changes
 *   move users in or out of user rules that select by `groups`;
 * - delivery of a (group, group rule): the entry converges to the group's mapped state and each
 *   dirty pair becomes a value-level modify of the member attribute, with the member's DN resolved
 *   at send time from the user rules' correlation (ldap-targets.md §6: resolve ids to DNs when
 *   sending, not when queueing; DNs change on rename);
 * - the user path's hooks: a user's new DN brings its groups back (no refint in OpenLDAP), and a
 *   user's entry is deleted only after its groups dropped it.
 */
import type { Logger } from "pino";
import type { Store } from "../../db/open.js";
import type { MemberSyncQueries, MemberSyncRow } from "../../db/member-sync.js";
import type { GroupChange, SyncQueries, SyncStateRow } from "../../db/sync.js";
import type { FilterNode } from "../../schemas/filter/ast.js";
import type { TargetConfig } from "../rules/config.js";
import { planGroup, type GroupPlanEvent, type WrittenGroup } from "../planning/group-planner.js";
import { mapGroup, matchesGroupRule, type DeliverableGroupRule } from "../rules/group-rule.js";
import type { LdapTarget } from "../ldap/connection.js";
import { sameDn, sameDnSpelling } from "../ldap/dn.js";
import { executeOps, LdapDeliveryError } from "../ldap/executor.js";
import { mapUser, matchesRule, type CompiledRule } from "../rules/mapping.js";
import type { LdapOp } from "../planning/ops.js";
import type { WorkerOptions } from "./worker.js";
import { claimDn } from "./dn-claims.js";

/** What the group path needs from the worker: its queries, options and outcome recorders. */
export interface WorkerServices {
  options: Pick<WorkerOptions, "readResource" | "secretKey"> & { store: Store; logger: Logger; targets: Map<string, { config: TargetConfig; connection: LdapTarget }> };
  sync: SyncQueries;
  members: MemberSyncQueries;
  now(): Date;
  wake(): void;
  finish(row: SyncStateRow, r: FinishResult, alsoInTransaction?: () => void): void;
  fail(row: SyncStateRow, e: unknown, at: string): void;
  waitFor(row: SyncStateRow, holder: SyncStateRow, dn: string, at: string): void;
  reportDelivery(target: string, outcome: "success" | "transient_failure" | "permanent_failure", t0: number): void;
  reportLdapWrites(row: SyncStateRow, ops: LdapOp[], error?: unknown): void;
}

export interface FinishResult {
  state: "in_sync" | "out_of_scope" | "remove" | "needs_password";
  written?: unknown;
  dn?: string | undefined;
  directoryId?: string | undefined;
  deliveredSecret?: boolean;
  at?: string;
  /** More work is queued for this row (a large membership change): deliver again. */
  more?: boolean;
}

/** Member pairs one delivery of an existing group converges (each is one single-value modify). */
const MEMBER_BATCH = 5000;
/** How soon a user whose entry is to be deleted looks again, while its groups drop it first. */
const EVICTION_WAIT_MS = 100;
/** Member pairs resolved between yields to the event loop. */
const CLASSIFY_CHUNK = 2000;
/** Members a preview of a group entering the directory plans with (the status API). */
const PREVIEW_MEMBERS = 1000;
/** Waits (doubling from EVICTION_WAIT_MS, capped at 25.6 s: about 5 minutes in all) before deleting anyway. */
const EVICTION_MAX_WAITS = 20;

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

const parseIds = (json: string | null): string[] => (json ? (JSON.parse(json) as string[]) : []);

export class GroupDelivery {
  private readonly groupRulesByName: Map<string, DeliverableGroupRule>;
  private readonly removedGroupsByName: Map<string, DeliverableGroupRule>;
  /** Per target: the user rules and group rules writing to it (where member DNs come from). */
  private readonly userRulesOn = new Map<string, string[]>();
  private readonly groupRulesOn = new Map<string, string[]>();
  private readonly userRulesByName: Map<string, CompiledRule>;
  /** User rules selecting users by group membership, and whether they read groups.display. */
  private readonly groupBasedRules: { rule: CompiledRule; display: boolean }[];
  private readonly members: MemberSyncQueries;
  private readonly sync: SyncQueries;

  constructor(
    private readonly w: WorkerServices,
    rules: { users: CompiledRule[]; removedUsers: CompiledRule[]; groups: DeliverableGroupRule[]; removedGroups: DeliverableGroupRule[] },
  ) {
    this.members = w.members;
    this.sync = w.sync;
    this.groupRulesByName = new Map(rules.groups.map((r) => [r.name, r]));
    this.userRulesByName = new Map(rules.users.map((r) => [r.name, r]));
    this.removedGroupsByName = new Map(rules.removedGroups.map((r) => [r.name, r]));
    const add = (m: Map<string, string[]>, target: string, rule: string) => m.set(target, [...(m.get(target) ?? []), rule]);
    for (const r of [...rules.users, ...rules.removedUsers]) add(this.userRulesOn, r.target, r.name);
    for (const r of [...rules.groups, ...rules.removedGroups]) add(this.groupRulesOn, r.target, r.name);
    this.groupBasedRules = rules.users.flatMap((rule) => {
      const reads = filterReadsGroups(rule.filter);
      return reads.any ? [{ rule, display: reads.display }] : [];
    });
  }

  /** Whether any rule needs the membership fan-out. */
  get active(): boolean {
    return this.groupRulesByName.size > 0 || this.groupBasedRules.length > 0;
  }

  markLeftMemberships(memberId: string, seq: number, at: string): void {
    if (!this.groupRulesByName.size) return;
    for (const m of this.members.ofMember(memberId, [...this.groupRulesByName.keys()])) {
      if (this.members.memberType(m.groupId, memberId) !== undefined) continue;
      const rule = this.groupRulesByName.get(m.rule)!;
      this.members.markDirty(m.rule, m.groupId, memberId);
      this.sync.markPending("Group", m.groupId, m.rule, rule.target, seq, at);
    }
  }

  fanOutMemberships(changes: GroupChange[], groupRules: DeliverableGroupRule[], at: string): void {
    // (The groups themselves were marked pending by fanOut: every Group change row, refreshes
    // included, is in changedSince's batch.)
    for (const g of changes) {
      const added = parseIds(g.membersAdded);
      const removed = parseIds(g.membersRemoved);
      for (const rule of groupRules) {
        if (g.op === "resync") this.members.markAllDirty(rule.name, g.id);
        for (const id of added) this.members.markDirty(rule.name, g.id, id);
        for (const id of removed) this.members.markDirty(rule.name, g.id, id);
      }
      if (g.op === "refresh" || !this.groupBasedRules.length) continue;
      // Users whose `groups` changed: joined or left, or the group's displayName changed under them.
      const renamed = g.op === "update" && g.displayBefore !== g.displayAfter;
      for (const { rule, display } of this.groupBasedRules) {
        const ids = new Set([...added, ...removed, ...(renamed && display ? this.members.memberIds(g.id) : [])]);
        for (const id of ids) {
          if (this.members.isUser(id) || this.sync.get("User", id, rule.name)) this.sync.markPending("User", id, rule.name, rule.target, g.seq, at);
        }
      }
    }
  }

  /** Queues a look at every group holding `memberId` in SCIM, for the group rules on `target`. */
  refreshGroupsOf(memberId: string, target: string): void {
    if (!this.groupRulesOn.get(target)?.length) return;
    const at = this.w.now().toISOString();
    for (const groupId of this.members.groupsOf(memberId)) this.sync.refreshGroup(groupId, [memberId], at);
  }

  /**
   * Before a user's entry is deleted, the groups on the same target drop its DN (OpenLDAP keeps
   * dangling member values without refint; AD removes them itself, but the order costs nothing
   * there). Marks those memberships for eviction and puts the user's delivery back a little.
   * Returns whether it did (the caller then stops).
   */
  evictFromGroups(row: SyncStateRow, at: string, dn: string): boolean {
    const rules = this.groupRulesOn.get(row.target) ?? [];
    // Values naming the entry being deleted, under its current DN or one it had before a rename
    // the group has not caught up with (with refint, the directory already holds the new DN while
    // the pair still records the old one). Not values naming another of the user's entries in the
    // same directory (e.g. a group-based rule's), which its groups keep.
    const others = this.w.sync.entriesOf(row.resourceType, row.resourceId, row.target).filter((o) => o.rule !== row.rule && !sameDn(o.dn, dn));
    const held = this.members.ofMember(row.resourceId, rules).filter((m) => m.dn !== null && (sameDn(m.dn, dn) || !others.some((o) => sameDn(o.dn, m.dn!))));
    if (!held.length) return false;
    if (row.attempts >= EVICTION_MAX_WAITS) {
      // A group that cannot be written (its own delivery failing) must not hold the user's
      // deprovisioning forever; the dangling value is reported and reconcile can repair it.
      this.w.options.logger.warn({ rule: row.rule, id: row.resourceId, groups: held.length }, "deleting a user entry still named in groups whose delivery did not drop it");
      return false;
    }
    this.w.options.store.sqlite.transaction(() => {
      for (const m of held) {
        this.members.markDirty(m.rule, m.groupId, row.resourceId, true);
        this.sync.refreshGroup(m.groupId, [row.resourceId], at);
      }
      this.sync.update(row.resourceType, row.resourceId, row.rule, {
        state: "retrying",
        attempts: row.attempts + 1,
        nextAttempt: new Date(this.w.now().getTime() + EVICTION_WAIT_MS * 2 ** Math.min(row.attempts, 8)).toISOString(),
        lastAttempt: at,
        lastError: `waiting for its removal from ${held.length} group(s) before the entry is deleted`,
        updated: this.w.now().toISOString(),
      });
    }).immediate();
    this.w.wake();
    return true;
  }

  /**
   * Delivers one (group, group rule): the entry converges to the group's mapped state, and the
   * dirty member pairs become one single-value modify each (RFC 4511 §4.6). A member whose own
   * entry is not in the directory yet waits (AD rejects unknown member DNs; OpenLDAP would accept
   * them silently), and its delivery brings the group back here (refreshGroupsOf).
   */
  async deliverGroup(row: SyncStateRow): Promise<void> {
    const removed = this.removedGroupsByName.get(row.rule);
    const rule = this.groupRulesByName.get(row.rule) ?? removed!;
    const target = this.w.options.targets.get(row.target)!;
    const group = removed ? undefined : this.w.options.readResource("Group", row.resourceId, { members: rule.filterNeedsMembers });
    const written = row.written ? (JSON.parse(row.written) as WrittenGroup) : undefined;
    const started = this.w.now().toISOString();
    const t0 = performance.now();
    const event: GroupPlanEvent = removed ? "ruleRemoved" : !group ? "delete" : matchesGroupRule(rule, group) ? "upsert" : "leftFilter";

    if (event !== "upsert" && !written) {
      // No entry, so no pairs to keep: a group entering the rule later takes its whole membership
      // (memberDelta marks it all), and a rule that never selects a group keeps no rows for it.
      this.w.finish(row, { state: event === "leftFilter" ? "out_of_scope" : "remove" }, () => this.members.forgetGroup(rule.name, row.resourceId));
      return;
    }
    try {
      let settles: { member: MemberSyncRow; dn: string | null }[] = [];
      let more = false;
      let plan;
      if (event === "upsert") {
        const after = await mapGroup(rule, group!);
        const delta = await this.memberDelta(rule, row, written);
        settles = delta.settles;
        more = delta.more;
        plan = planGroup({ rule, event, after, lastWritten: written, membersAdded: delta.added, membersRemoved: delta.removed, membersRespelled: delta.respelled });
      } else {
        plan = planGroup({ rule, event, lastWritten: written, membersAdded: [], membersRemoved: [] });
      }
      if ("error" in plan) throw new LdapDeliveryError(plan.error, { transient: false, opIndex: -1 });
      // A group renamed away from a name another group then takes: the new one waits for the
      // entry to move (dn-claims.ts), it never merges into it.
      if (plan.written?.dn !== undefined && plan.ops.length > 0 && !(await claimDn(this.w, row, plan.written.dn, started))) return;
      let dn = plan.written?.dn ?? written?.dn;
      let directoryId = row.directoryId ?? undefined;
      if (plan.ops.length) {
        const result = await executeOps(target.connection, plan.ops, { createIfMissing: false, readDirectoryId: !directoryId && plan.written !== null }).catch((e: unknown) => {
          this.w.reportLdapWrites(row, plan.ops, e);
          throw e;
        });
        this.w.reportLdapWrites(row, plan.ops);
        dn = plan.written === null ? undefined : result.dn;
        directoryId = result.directoryId ?? directoryId;
      }
      const created = plan.written !== null && (written !== undefined || plan.ops.length > 0);
      if (event === "ruleRemoved") {
        // Deleted or left in place (onRuleRemoved none): either way no longer tracked.
        this.w.finish(row, { state: "remove" }, () => this.members.forgetGroup(rule.name, row.resourceId));
      } else if (plan.written === null && written) {
        // The entry is gone (deprovisioned, or emptyGroups "skip" after the last member left).
        this.w.finish(row, { state: event === "upsert" ? "in_sync" : "remove" }, () => {
          if (event === "upsert") {
            for (const s of settles) if (s.dn === null) this.members.settle(rule.name, row.resourceId, s.member, null);
            this.sync.update(row.resourceType, row.resourceId, row.rule, { written: null, dn: null, directoryId: null });
          } else this.members.forgetGroup(rule.name, row.resourceId);
        });
      } else if (!created) {
        // emptyGroups "skip": not created until a member can be written (a member's delivery
        // brings the group back here).
        this.w.finish(row, { state: "in_sync", more }, () => {
          for (const s of settles) this.members.settle(rule.name, row.resourceId, s.member, s.dn);
        });
      } else {
        this.w.finish(row, { state: "in_sync", written: plan.written ?? undefined, dn, directoryId, at: started, more }, () => {
          for (const s of settles) this.members.settle(rule.name, row.resourceId, s.member, s.dn);
          // A user whose entry waits to be deleted until its groups drop it goes on now, not at
          // its next backoff (evictFromGroups).
          for (const s of settles) if (s.member.evict && s.dn === null) this.sync.retryNow("User", s.member.memberId, row.target, started);
        });
      }
      this.w.options.logger.debug({ rule: rule.name, id: row.resourceId, ops: plan.ops.length, event }, "group delivered");
      this.w.reportDelivery(row.target, "success", t0);
    } catch (e) {
      this.w.fail(row, e, started);
      this.w.reportDelivery(row.target, e instanceof LdapDeliveryError && e.transient ? "transient_failure" : "permanent_failure", t0);
    }
  }

  /**
   * The member values to add and remove for a group's dirty pairs, with what to record for each
   * pair once the ops succeed. A group not yet in the directory takes all its resolvable members
   * in its add; an existing one converges up to MEMBER_BATCH pairs per delivery.
   */
  private async memberDelta(
    rule: DeliverableGroupRule,
    row: SyncStateRow,
    written: WrittenGroup | undefined,
  ): Promise<{ added: string[]; removed: string[]; respelled: { from: string; to: string }[]; settles: { member: MemberSyncRow; dn: string | null }[]; more: boolean }> {
    if (!rule.actions.members) return { added: [], removed: [], respelled: [], settles: [], more: false };
    const limit = written ? MEMBER_BATCH : -1; // SQLite: LIMIT -1 is no limit
    // A group entering the directory (new, back in the rule's filter, or a rule added later)
    // takes its whole current membership, not only the deltas seen so far.
    if (!written) this.members.markAllDirty(rule.name, row.resourceId);
    const dirty = this.members.dirtyRows(rule.name, row.resourceId, limit);
    const { added, removed, respelled, settles } = await this.classify(row.target, row.resourceId, dirty, written);
    return { added, removed, respelled, settles, more: limit > 0 && dirty.length >= limit && settles.length > 0 };
  }

  /**
   * What each pair needs (read-only): the value to add, to remove, and what to record for the pair
   * once the ops succeed. Shared by delivery and the status API's preview.
   */
  private async classify(
    target: string,
    groupId: string,
    pairs: MemberSyncRow[],
    written: WrittenGroup | undefined,
  ): Promise<{ added: string[]; removed: string[]; respelled: { from: string; to: string }[]; settles: { member: MemberSyncRow; dn: string | null }[] }> {
    const userRules = this.userRulesOn.get(target) ?? [];
    const groupRules = this.groupRulesOn.get(target) ?? [];
    const added: string[] = [];
    const removed: string[] = [];
    const respelled: { from: string; to: string }[] = [];
    const settles: { member: MemberSyncRow; dn: string | null }[] = [];
    for (const [i, member] of pairs.entries()) {
      // A group entering the directory with 100,000 members is two point queries per member: let
      // SCIM requests and other deliveries run between chunks (a mark made meanwhile bumps the
      // pair's generation, so it is not lost).
      if (i > 0 && i % CLASSIFY_CHUNK === 0) await new Promise((r) => setImmediate(r));
      // Values written into an entry that is not there any more are not there either.
      const had = written ? member.dn : null;
      const type = member.evict ? undefined : this.members.memberType(groupId, member.memberId);
      const want = type ? this.members.memberDn(type, member.memberId, type === "User" ? userRules : groupRules) : undefined;
      if (type && want === undefined && had === null) {
        // Waits for the member's own delivery, which marks the pair again (refreshGroupsOf). The
        // pair is settled, not left dirty: a large group whose users are still being created is
        // then not rescanned on every delivery.
        settles.push({ member, dn: null });
        continue;
      }
      if (want !== undefined && had !== null && sameDn(had, want)) {
        // The same entry in a new spelling (a case-only rename of the member): the value follows.
        if (!sameDnSpelling(had, want)) respelled.push({ from: had, to: want });
        settles.push({ member, dn: want });
        continue;
      }
      if (had !== null) removed.push(had);
      if (want !== undefined) added.push(want);
      else {
        // The member's entry may have been renamed since the value was written, or be being
        // renamed now, and OpenLDAP's refint (slapo-refint(5)) rewrites member values on a modrdn
        // by itself, asynchronously: the group may hold (or be about to hold) the member's
        // current or coming DN rather than the one recorded. Every such value goes (one already
        // absent is success, ldap-targets.md §5.5).
        for (const dn of await this.dnsOfMember(target, member.memberId)) {
          if (![...(had === null ? [] : [had]), ...removed].some((r) => sameDn(r, dn))) removed.push(dn);
        }
      }
      settles.push({ member, dn: want ?? null });
    }
    return { added, removed, respelled, settles };
  }

  /**
   * The DNs a member's entries have in a directory (users or groups), and for a user whose
   * delivery is due (a rename may be under way), the DN its current SCIM state maps to.
   */
  private async dnsOfMember(target: string, memberId: string): Promise<string[]> {
    const users = this.sync.entriesOf("User", memberId, target).filter((e) => this.userRulesOn.get(target)?.includes(e.rule));
    const groups = users.length ? [] : this.sync.entriesOf("Group", memberId, target).filter((e) => this.groupRulesOn.get(target)?.includes(e.rule));
    const dns = [...users, ...groups].map((e) => e.dn);
    const moving = users.filter((e) => e.state === "pending" || e.state === "retrying");
    const resource = moving.length ? this.w.options.readResource("User", memberId) : undefined;
    for (const e of moving) {
      const rule = this.userRulesByName.get(e.rule);
      if (!resource || !rule || !matchesRule(rule, resource)) continue;
      const mapped = await mapUser(rule, resource).catch(() => undefined);
      if (mapped) dns.push(mapped.dn);
    }
    return dns;
  }

  /**
   * What the next delivery of (group, rule) would send, without sending or recording anything:
   * the status API's "planned operations". A group not yet in the directory is planned with its
   * whole current membership (up to PREVIEW_MEMBERS); an existing one with its pending pairs.
   */
  async preview(groupId: string, ruleName: string, row: SyncStateRow | undefined): Promise<{ event: GroupPlanEvent; dn?: string | undefined; ops: LdapOp[]; error?: string | undefined }> {
    const rule = this.groupRulesByName.get(ruleName) ?? this.removedGroupsByName.get(ruleName);
    if (!rule) return { event: "ruleRemoved", ops: [], error: `no group rule ${ruleName}` };
    const removed = !this.groupRulesByName.has(ruleName);
    const group = removed ? undefined : this.w.options.readResource("Group", groupId, { members: rule.filterNeedsMembers });
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
          ? this.members.dirtyRows(rule.name, groupId, MEMBER_BATCH)
          : this.members.memberIds(groupId).slice(0, PREVIEW_MEMBERS).map((memberId) => ({ memberId, dn: null, dirty: 0, evict: false }));
      const delta = await this.classify(rule.target, groupId, pairs, written);
      const plan = planGroup({ rule, event, after, lastWritten: written, membersAdded: delta.added, membersRemoved: delta.removed, membersRespelled: delta.respelled });
      return "error" in plan ? { event, dn: after.dn, ops: [], error: plan.error } : { event, dn: after.dn, ops: plan.ops };
    } catch (e) {
      return { event, ops: [], error: e instanceof Error ? e.message : String(e) };
    }
  }
}
