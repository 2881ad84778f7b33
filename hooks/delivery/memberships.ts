/**
 * Group memberships in delivery, kept apart from the user and group entries themselves:
 * - fan-out: a group change marks (group rule, group, member) pairs dirty in group_member_sync; a
 *   user who left groups (deleted) marks the pairs of the groups holding its DN; membership changes
 *   move users in or out of user rules that select by `groups`;
 * - what a group's delivery sends for its dirty pairs: a value-level modify of the member attribute
 *   each, with the member's DN resolved at send time from the user rules' correlation
 *   (ldap-targets.md §6: resolve ids to DNs when sending, not when queueing; DNs change on rename);
 * - the user path's hooks: a user's new DN brings its groups back (no refint in OpenLDAP), and a
 *   user's entry is deleted only after its groups dropped it.
 */
import type { MemberSyncRow } from "../../db/member-sync.js";
import type { StoreQueries } from "../../db/store.js";
import type { GroupChange, SyncStateRow } from "../../db/sync.js";
import type { WrittenGroup } from "../planning/group-planner.js";
import type { DeliverableGroupRule } from "../rules/group-rule.js";
import { sameDn, sameDnSpelling } from "../ldap/dn.js";
import { mapUser, matchesRule } from "../rules/mapping.js";
import type { DeliveryContext } from "./context.js";
import type { Outcome } from "./outcome.js";

/** Member pairs one delivery of an existing group converges (each is one single-value modify). */
export const MEMBER_BATCH = 5000;
/** How soon a user whose entry is to be deleted looks again, while its groups drop it first. */
const EVICTION_WAIT_MS = 100;
/** Waits (doubling from EVICTION_WAIT_MS, capped at 25.6 s: about 5 minutes in all) before deleting anyway. */
const EVICTION_MAX_WAITS = 20;
/** Member pairs resolved between yields to the event loop. */
const CLASSIFY_CHUNK = 2000;

const parseIds = (json: string | null): string[] => (json ? (JSON.parse(json) as string[]) : []);

/** What a group's dirty pairs come to: values to add, remove or respell, and what to record per pair. */
export interface MemberDelta {
  added: string[];
  removed: string[];
  /** Values a departed member's entry may have in the group without a pair recording them (planner membersMaybeHeld). */
  maybeHeld: string[];
  respelled: { from: string; to: string }[];
  settles: { member: MemberSyncRow; dn: string | null }[];
}

export class Memberships {
  constructor(private readonly ctx: DeliveryContext) {}

  /**
   * A user who left groups without a group change (a deleted user leaves them all, RFC 7644 §3.6):
   * the groups whose entries hold its DN drop it. Inside the fan-out's transaction (`tx`).
   */
  async markLeftMemberships(tx: StoreQueries, memberId: string, seq: number, at: string): Promise<void> {
    const groupRules = this.ctx.rules.groups;
    if (!groupRules.length) return;
    for (const m of await tx.memberSync.ofMember(memberId, groupRules.map((r) => r.name))) {
      if ((await tx.memberSync.memberType(m.groupId, memberId)) !== undefined) continue;
      const rule = this.ctx.rules.group(m.rule)!.rule;
      await tx.memberSync.markDirty(m.rule, m.groupId, memberId);
      await tx.sync.markPending("Group", m.groupId, m.rule, rule.target, seq, at);
    }
  }

  /**
   * Group changes' member deltas become dirty pairs; users whose `groups` changed are marked for
   * group-based user rules. Inside the fan-out's transaction (`tx`).
   */
  async fanOut(tx: StoreQueries, changes: GroupChange[], at: string): Promise<void> {
    // (The groups themselves are marked pending by the fan-out: every Group change row, refreshes
    // included, is in its batch.)
    const { memberSync: members, sync } = tx;
    for (const g of changes) {
      const added = parseIds(g.membersAdded);
      const removed = parseIds(g.membersRemoved);
      for (const rule of this.ctx.rules.groups) {
        if (g.op === "resync") await members.markAllDirty(rule.name, g.id);
        for (const id of added) await members.markDirty(rule.name, g.id, id);
        for (const id of removed) await members.markDirty(rule.name, g.id, id);
      }
      if (g.op === "refresh" || !this.ctx.rules.groupBased.length) continue;
      // Users whose `groups` changed: joined or left, or the group's displayName changed under them.
      const renamed = g.op === "update" && g.displayBefore !== g.displayAfter;
      for (const { rule, display } of this.ctx.rules.groupBased) {
        const ids = new Set([...added, ...removed, ...(renamed && display ? await members.memberIds(g.id) : [])]);
        for (const id of ids) {
          if ((await members.isUser(id)) || (await sync.get("User", id, rule.name))) await sync.markPending("User", id, rule.name, rule.target, g.seq, at);
        }
      }
    }
  }

  /** Queues a look at every group holding `memberId` in SCIM, for the group rules on `target`; inside the transaction `tx`. */
  async refreshGroupsOf(tx: StoreQueries, memberId: string, target: string): Promise<void> {
    if (!this.ctx.rules.groupRulesOn(target).length) return;
    const at = this.ctx.now().toISOString();
    for (const groupId of await tx.memberSync.groupsOf(memberId)) await tx.sync.refreshGroup(groupId, [memberId], at);
  }

  /**
   * Before a user's entry is deleted, the groups on the same target drop its DN (OpenLDAP keeps
   * dangling member values without refint; AD removes them itself, but the order costs nothing
   * there). Returns the outcome that marks those memberships for eviction and puts the user's
   * delivery back a little, or undefined when no group holds the entry (the delete goes on).
   */
  async evictFromGroups(row: SyncStateRow, at: string, dn: string): Promise<Outcome | undefined> {
    if (!(await this.heldBy(this.ctx.store, row, dn)).length) return undefined;
    if (row.attempts >= EVICTION_MAX_WAITS) {
      // A group that cannot be written (its own delivery failing) must not hold the user's
      // deprovisioning forever; the dangling value is reported and reconcile can repair it.
      this.ctx.logger.warn({ rule: row.rule, id: row.resourceId }, "deleting a user entry still named in groups whose delivery did not drop it");
      return undefined;
    }
    return {
      kind: "parked",
      at,
      retryAt: new Date(this.ctx.now().getTime() + EVICTION_WAIT_MS * 2 ** Math.min(row.attempts, 8)),
      reason: "waiting for its removal from its groups before the entry is deleted",
      // Read again as the outcome commits: a group delivery that settled meanwhile already dropped
      // the value, and marking its pair again would remove it a second time.
      also: async (tx) => {
        const held = await this.heldBy(tx, row, dn);
        for (const m of held) {
          await tx.memberSync.markDirty(m.rule, m.groupId, row.resourceId, true);
          await tx.sync.refreshGroup(m.groupId, [row.resourceId], at);
        }
        return held.length > 0;
      },
    };
  }

  /**
   * Group pairs on the row's target holding the entry being deleted, under its current DN or one
   * it had before a rename the group has not caught up with (with refint, the directory already
   * holds the new DN while the pair still records the old one). Not values naming another of the
   * user's entries in the same directory (e.g. a group-based rule's), which its groups keep.
   * Read through `q`: the store (committed state), or a transaction's queries.
   */
  private async heldBy(q: Pick<StoreQueries, "sync" | "memberSync">, row: SyncStateRow, dn: string): Promise<{ rule: string; groupId: string; dn: string | null }[]> {
    const rules = this.ctx.rules.groupRulesOn(row.target);
    if (!rules.length) return [];
    const others = (await q.sync.entriesOf(row.resourceType, row.resourceId, row.target)).filter((o) => o.rule !== row.rule && !sameDn(o.dn, dn));
    return (await q.memberSync.ofMember(row.resourceId, [...rules])).filter((m) => m.dn !== null && (sameDn(m.dn, dn) || !others.some((o) => sameDn(o.dn, m.dn!))));
  }

  /**
   * The member values to add and remove for a group's dirty pairs, with what to record for each
   * pair once the ops succeed. A group not yet in the directory takes all its resolvable members
   * in its add; an existing one converges up to MEMBER_BATCH pairs per delivery.
   */
  async delta(rule: DeliverableGroupRule, row: SyncStateRow, written: WrittenGroup | undefined): Promise<MemberDelta & { more: boolean }> {
    if (!rule.actions.members) return { added: [], removed: [], maybeHeld: [], respelled: [], settles: [], more: false };
    const limit = written ? MEMBER_BATCH : -1; // -1: every dirty pair (MemberSyncQueries.dirtyRows)
    // A group entering the directory (new, back in the rule's filter, or a rule added later)
    // takes its whole current membership, not only the deltas seen so far: committed (with the
    // turn's other writes) before the dirty pairs are read back.
    if (!written) await this.ctx.commit((tx) => tx.memberSync.markAllDirty(rule.name, row.resourceId));
    const dirty = await this.ctx.store.memberSync.dirtyRows(rule.name, row.resourceId, limit);
    const delta = await this.classify(row.target, row.resourceId, dirty, written);
    return { ...delta, more: limit > 0 && dirty.length >= limit && delta.settles.length > 0 };
  }

  /**
   * What each pair needs (read-only): the value to add, to remove, and what to record for the pair
   * once the ops succeed. Shared by delivery and the status API's preview.
   */
  async classify(target: string, groupId: string, pairs: MemberSyncRow[], written: WrittenGroup | undefined): Promise<MemberDelta> {
    const userRules = [...this.ctx.rules.userRulesOn(target)];
    const groupRules = [...this.ctx.rules.groupRulesOn(target)];
    const out: MemberDelta = { added: [], removed: [], maybeHeld: [], respelled: [], settles: [] };
    for (const [i, member] of pairs.entries()) {
      // A group entering the directory with 100,000 members is two point queries per member: let
      // SCIM requests and other deliveries run between chunks (a mark made meanwhile bumps the
      // pair's generation, so it is not lost).
      if (i > 0 && i % CLASSIFY_CHUNK === 0) await new Promise((r) => setImmediate(r));
      // Values written into an entry that is not there any more are not there either.
      const had = written ? member.dn : null;
      const type = member.evict ? undefined : await this.ctx.store.memberSync.memberType(groupId, member.memberId);
      const want = type ? await this.ctx.store.memberSync.memberDn(type, member.memberId, type === "User" ? userRules : groupRules) : undefined;
      if (type && want === undefined && had === null) {
        // Waits for the member's own delivery, which marks the pair again (refreshGroupsOf). The
        // pair is settled, not left dirty: a large group whose users are still being created is
        // then not rescanned on every delivery.
        out.settles.push({ member, dn: null });
        continue;
      }
      if (want !== undefined && had !== null && sameDn(had, want)) {
        // The same entry in a new spelling (a case-only rename of the member): the value follows.
        if (!sameDnSpelling(had, want)) out.respelled.push({ from: had, to: want });
        out.settles.push({ member, dn: want });
        continue;
      }
      if (had !== null) out.removed.push(had);
      if (want !== undefined) out.added.push(want);
      else if (had !== null) {
        // The member's entry may have been renamed since the value was written, or be being
        // renamed now, and OpenLDAP's refint (slapo-refint(5)) rewrites member values on a modrdn
        // by itself, asynchronously: the group may hold (or be about to hold) the member's
        // current or coming DN rather than the one recorded. Every such value goes (one already
        // absent is success, ldap-targets.md §5.5). Only the recorded value counts as a member
        // leaving: the others may not be there at all. A pair recording no value (a delivery
        // already removed it, or it was never written) has none to chase.
        for (const dn of await this.dnsOfMember(target, member.memberId)) {
          if (![...out.removed, ...out.maybeHeld].some((r) => sameDn(r, dn))) out.maybeHeld.push(dn);
        }
      }
      out.settles.push({ member, dn: want ?? null });
    }
    return out;
  }

  /**
   * The DNs a member's entries have in a directory (users or groups), and for a user whose
   * delivery is due (a rename may be under way), the DN its current SCIM state maps to.
   */
  private async dnsOfMember(target: string, memberId: string): Promise<string[]> {
    const userRules = this.ctx.rules.userRulesOn(target);
    const groupRules = this.ctx.rules.groupRulesOn(target);
    const users = (await this.ctx.store.sync.entriesOf("User", memberId, target)).filter((e) => userRules.includes(e.rule));
    const groups = users.length ? [] : (await this.ctx.store.sync.entriesOf("Group", memberId, target)).filter((e) => groupRules.includes(e.rule));
    const dns = [...users, ...groups].map((e) => e.dn);
    const moving = users.filter((e) => e.state === "pending" || e.state === "retrying");
    const resource = moving.length ? await this.ctx.read("User", memberId) : undefined;
    for (const e of moving) {
      const found = this.ctx.rules.user(e.rule);
      const rule = found && !found.removed ? found.rule : undefined;
      if (!resource || !rule || !matchesRule(rule, resource)) continue;
      const mapped = await mapUser(rule, resource).catch(() => undefined);
      if (mapped) dns.push(mapped.dn);
    }
    return dns;
  }
}
