/**
 * The skeleton every delivery of a (resource, rule) row follows, filled in by the user, group and
 * entry deliveries: a row whose rule never wrote an entry has nothing to undo; otherwise the entry
 * converges, and any throw becomes a failed outcome (retried or parked by the recorder). LDAP
 * operations run through executeReported, so each reaches the audit log as the directory answered.
 */
import type { SyncStateRow } from "../../db/sync.js";
import { executeOps, type ExecOptions, type ExecResult } from "../ldap/executor.js";
import type { LdapOp } from "../planning/ops.js";
import type { DeliveryContext, Target } from "./context.js";
import type { Outcome } from "./outcome.js";

export interface DeliverySteps {
  /** upsert, delete, leftFilter or ruleRemoved (planner.ts PlanEvent, group-planner.ts). */
  event: string;
  /** What the rule last wrote for this resource, if anything. */
  written: unknown;
  /** The outcome when the resource left (or never entered) the rule and nothing was written. */
  nothingToUndo(): Outcome;
  /** Converges the entry; may throw (a failed outcome). */
  converge(): Promise<Outcome>;
}

export async function runDelivery(at: string, steps: DeliverySteps): Promise<Outcome> {
  if (steps.event !== "upsert" && steps.written === undefined) return steps.nothingToUndo();
  try {
    return await steps.converge();
  } catch (e) {
    return { kind: "failed", error: e, at };
  }
}

/** executeOps, with each operation reported to the audit log as the directory answered. */
export async function executeReported(ctx: DeliveryContext, row: SyncStateRow, target: Target, ops: LdapOp[], opts: ExecOptions): Promise<ExecResult> {
  let result: ExecResult;
  try {
    result = await executeOps(target.connection, ops, opts);
  } catch (e) {
    ctx.reportLdapWrites(row, ops, e);
    throw e;
  }
  ctx.reportLdapWrites(row, ops);
  return result;
}
