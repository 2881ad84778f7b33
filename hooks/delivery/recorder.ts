/**
 * Records delivery outcomes (outcome.ts) in sync_state. Every outcome is written through the group
 * commit (db/group-commit.ts): the outcomes of one event-loop turn share one commit, and each
 * delivery's slot is freed only once its outcome is durable. A row that got a newer change while
 * its delivery ran stays pending for another round, whatever the outcome. Recording an outcome
 * ends the row's delivery lease (./scheduler.ts), and is fenced by it: an outcome whose claim's
 * token the row no longer bears (its lease ran out and another worker took the row over) changes
 * nothing, so it cannot overwrite the result of the worker that holds the row now.
 */
import type { GroupCommit } from "../../db/group-commit.js";
import type { StoreQueries } from "../../db/store.js";
import { NO_LEASE, rowKey, type SyncStateRow } from "../../db/sync.js";
import { dnKey } from "../ldap/dn.js";
import { LdapDeliveryError } from "../ldap/executor.js";
import { tombstoneIfLeftInPlace } from "./entry-ownership.js";
import type { Outcome } from "./outcome.js";
import type { RuleSet } from "./rule-set.js";

export interface RecorderOptions {
  rules: RuleSet;
  commit: GroupCommit;
  now: () => Date;
  maxAttempts: number;
  retry: { initialMs: number; maxMs: number };
}


/** What recording an outcome did. */
export interface Recorded {
  /** The write left work due now (the row itself again, or rows that waited for it). */
  due: boolean;
  /** Nothing was written: another worker's claim holds the row now. */
  fenced: boolean;
}

export class OutcomeRecorder {
  constructor(private readonly o: RecorderOptions) {}

  /** Writes `outcome` for the row its delivery was claimed as; resolves once durable. */
  record(row: SyncStateRow, outcome: Outcome): Promise<Recorded> {
    return this.o.commit.run(async (tx) => {
      // Locked: a change fanned out meanwhile (markPending) either committed before, and is seen
      // as `newer`, or waits for this outcome and marks the row pending again after it; and no
      // other claim can take the row between the fencing check and the write.
      const current = await tx.sync.lockForWrite(row.resourceType, row.resourceId, row.rule);
      if (!current) return { due: false, fenced: false };
      if (current.leaseToken !== row.leaseToken) return { due: false, fenced: true };
      return { due: await this.apply(tx, row, current, outcome), fenced: false };
    });
  }

  /** Inside the group commit's transaction: every statement through `tx`, awaited in turn. */
  private async apply(tx: StoreQueries, row: SyncStateRow, current: SyncStateRow, outcome: Outcome): Promise<boolean> {
    const newer = current.wantedSeq !== row.wantedSeq;
    const at = this.o.now().toISOString();
    switch (outcome.kind) {
      case "finished":
        return this.finish(tx, row, current, outcome, newer || outcome.more === true, at);
      case "failed":
        await this.fail(tx, row, outcome.error, outcome.at, newer, at);
        return newer;
      case "waiting":
        await tx.sync.update(row.resourceType, row.resourceId, row.rule, {
          state: newer ? "pending" : "retrying",
          waitingFor: rowKey(outcome.holder),
          lastAttempt: outcome.at,
          // Only a safety net: the holder's outcome wakes this row (wakeWaitingFor).
          nextAttempt: newer ? null : new Date(Date.parse(at) + this.o.retry.maxMs).toISOString(),
          lastCode: null,
          lastError: `waiting for ${outcome.holder.resourceType} ${outcome.holder.resourceId} (rule ${outcome.holder.rule}, ${outcome.holder.state}) to leave ${outcome.dn}`,
          updated: at,
          ...NO_LEASE,
        });
        return newer;
      case "parked": {
        const now = newer || !(await outcome.also(tx));
        await tx.sync.update(row.resourceType, row.resourceId, row.rule, {
          state: now ? "pending" : "retrying",
          attempts: row.attempts + 1,
          nextAttempt: now ? null : outcome.retryAt.toISOString(),
          lastAttempt: outcome.at,
          lastError: outcome.reason,
          updated: at,
          ...NO_LEASE,
        });
        return true;
      }
    }
  }

  private async finish(tx: StoreQueries, row: SyncStateRow, current: SyncStateRow, r: Extract<Outcome, { kind: "finished" }>, again: boolean, at: string): Promise<boolean> {
    await r.also?.(tx);
    let due = again;
    const dn = r.state === "remove" ? null : (r.dn ?? current.dn);
    // A resource waiting for this one's entry to leave a DN may go on once it has.
    if (current.dnKey !== null && (dn === null || dnKey(dn) !== current.dnKey)) {
      if ((await tx.sync.wakeWaitingFor(rowKey(row), at)) > 0) due = true;
    }
    if (r.state === "remove" && !again) {
      await tombstoneIfLeftInPlace(tx, current, this.o.rules.removedRule(row.rule), at);
      await tx.sync.remove(row.resourceType, row.resourceId, row.rule);
      if (this.o.rules.isRemoved(row.rule) && !(await tx.sync.hasRowsOf(row.rule))) await tx.sync.forgetRule(row.rule);
      return due;
    }
    await tx.sync.update(row.resourceType, row.resourceId, row.rule, {
      state: again ? "pending" : r.state === "remove" ? "out_of_scope" : r.state,
      deliveredSeq: row.wantedSeq,
      dn,
      dnKey: dn === null ? null : dnKey(dn),
      directoryId: r.state === "remove" ? null : (r.directoryId ?? current.directoryId),
      written: r.state === "remove" ? null : r.written !== undefined ? JSON.stringify(r.written) : current.written,
      attempts: 0,
      lastAttempt: r.at ?? at,
      nextAttempt: null,
      lastCode: null,
      lastError: null,
      // Erase the password once delivered (or when this rule has no entry to deliver it to),
      // unless a newer one replaced it meanwhile.
      secret: (r.deliveredSecret || r.state !== "in_sync") && current.secret === row.secret ? null : current.secret,
      waitingFor: null,
      updated: at,
      ...NO_LEASE,
    });
    return due;
  }

  private async fail(tx: StoreQueries, row: SyncStateRow, e: unknown, startedAt: string, newer: boolean, at: string): Promise<void> {
    const err = e instanceof LdapDeliveryError ? e : undefined;
    const transient = err?.transient ?? false;
    const message = e instanceof Error ? e.message : String(e);
    const attempts = row.attempts + 1;
    const giveUp = !transient && attempts >= this.o.maxAttempts;
    const { initialMs, maxMs } = this.o.retry;
    // Exponential backoff with full jitter: spreads retries of many entries after an outage.
    const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempts - 1, 20));
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    await tx.sync.update(row.resourceType, row.resourceId, row.rule, {
      state: newer ? "pending" : giveUp ? "failed" : "retrying",
      attempts: newer ? 0 : attempts,
      lastAttempt: startedAt,
      nextAttempt: giveUp || newer ? null : new Date(Date.parse(at) + delay).toISOString(),
      lastCode: err?.code ?? null,
      lastError: message.slice(0, 2000),
      updated: at,
      ...NO_LEASE,
    });
  }
}

/** How metrics count an outcome; undefined for a row that only waits. */
export function resultOf(outcome: Outcome): "success" | "transient_failure" | "permanent_failure" | undefined {
  if (outcome.kind === "finished") return "success";
  if (outcome.kind === "failed") return outcome.error instanceof LdapDeliveryError && outcome.error.transient ? "transient_failure" : "permanent_failure";
  return undefined;
}
