/**
 * The fan-out: committed outbox rows (changes) become pending sync state for every rule, in one
 * transaction with the mark that each row was fanned out. A user's change marks each user rule
 * (and carries a sealed password to the rules that deliver passwords); a group's change marks each
 * group rule and its member pairs (memberships.ts). Crash-safe: until the marks commit, the rows
 * are fanned out again, and marking a row pending twice is the same as once. Each row is marked
 * by itself, never by position: on PostgreSQL a row with a lower seq can commit after one with a
 * higher seq was fanned out, and is still taken by the next run (replicas-design.md 4.3).
 */
import { dnKey } from "../ldap/dn.js";
import type { DeliveryContext } from "./context.js";
import type { Memberships } from "./memberships.js";

/** Outbox rows one fan-out transaction takes. */
const FAN_OUT_BATCH = 5000;

export class FanOut {
  constructor(
    private readonly ctx: DeliveryContext,
    private readonly memberships: Memberships,
  ) {}

  /** Whether committed outbox rows wait to be fanned out (one index probe, no write). */
  behind(): Promise<boolean> {
    return this.ctx.store.sync.hasUnfanned();
  }

  /**
   * Fans out up to FAN_OUT_BATCH outbox rows; how many it took (0 when caught up). Two runs at
   * once are safe: each takes the rows not yet marked inside its own transaction (SQLite's take
   * turns; PostgreSQL's lock the rows they take and skip those another holds).
   */
  async run(): Promise<number> {
    if (!(await this.behind())) return 0;
    const { rules } = this.ctx;
    return this.ctx.store.transaction(async (tx) => {
      const { seqs, rows: changed, groupChanges } = await tx.sync.unfanned(FAN_OUT_BATCH);
      if (!changed.length) return 0;
      const at = this.ctx.now().toISOString();
      for (const c of changed) {
        if (c.kind === "User") {
          const secret = await tx.sync.takePendingSecret(c.id);
          for (const rule of rules.users) {
            await tx.sync.markPending(c.kind, c.id, rule.name, rule.target, c.seq, at);
            if (secret !== undefined && rule.actions.password) await tx.sync.setSecret(c.kind, c.id, rule.name, secret);
          }
          // A user who left groups without a group change (deleted): its groups drop it.
          await this.memberships.markLeftMemberships(tx, c.id, c.seq, at);
        } else if (c.kind === "Group") {
          for (const rule of rules.groups) await tx.sync.markPending(c.kind, c.id, rule.name, rule.target, c.seq, at);
        }
      }
      if (rules.readsMemberships) await this.memberships.fanOut(tx, groupChanges, at);
      await tx.sync.markFanned(seqs);
      return changed.length;
    });
  }

  /**
   * At start-up: remembers the configured rules (so a later removal can still be deprovisioned)
   * and queues the entries of removed rules; a removed rule is forgotten once it has no entries.
   */
  async noteRules(): Promise<void> {
    const { rules } = this.ctx;
    const at = this.ctx.now().toISOString();
    await this.ctx.store.transaction(async ({ sync }) => {
      // Rows written before dn_key existed: which DN each holds, so no other resource takes it.
      for (let rows = await sync.rowsWithoutDnKey(1000); rows.length; rows = await sync.rowsWithoutDnKey(1000)) {
        for (const r of rows) await sync.update(r.resourceType, r.resourceId, r.rule, { dnKey: dnKey(r.dn) });
      }
      for (const r of rules.users) await sync.rememberRule(r.name, "User", r.target, r.config, at);
      for (const r of rules.groups) await sync.rememberRule(r.name, "Group", r.target, r.config, at);
      for (const r of rules.removed) {
        const rows = await sync.rowsOfRule(r.name);
        if (!rows.length) await sync.forgetRule(r.name);
        for (const row of rows) await sync.update(row.resourceType, row.resourceId, row.rule, { state: "pending", attempts: 0, nextAttempt: null, updated: at });
      }
    });
  }
}
