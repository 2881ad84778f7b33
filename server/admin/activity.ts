/**
 * Delivery activity per hour (issue 6) for the admin page's plot: the audit log's LDAP-write rows
 * (one per LDAP operation the worker ran, server/observability/audit.ts) counted by outcome in
 * UTC hours. Computed from audit_log, so it survives restarts and is pruned with it.
 */
import type { Store } from "../../db/store.js";

const HOUR_MS = 3_600_000;
export const MAX_ACTIVITY_HOURS = 24 * 14;

export interface ActivityBucket {
  /** Start of the UTC hour, ISO 8601. */
  start: string;
  /** LDAP operations that succeeded in this hour. */
  success: number;
  /** LDAP operations that failed (the directory's refusal or an unreachable target). */
  error: number;
}

export interface Activity {
  hours: number;
  /** Oldest first, one per hour, the current (partial) hour last; empty hours are zeros. */
  buckets: ActivityBucket[];
  totals: { success: number; error: number };
}

/** Start of the UTC hour containing `t`. */
function hourOf(t: Date): number {
  return Math.floor(t.getTime() / HOUR_MS) * HOUR_MS;
}

/** `hours` buckets ending with the hour that contains `now` (hours named as AuditStore counts them). */
export async function activity(store: Pick<Store, "audit">, o: { hours: number; now: Date }): Promise<Activity> {
  const last = hourOf(o.now);
  const first = last - (o.hours - 1) * HOUR_MS;
  const rows = await store.audit.ldapOutcomesPerHour(new Date(first).toISOString());
  const byHour = new Map<string, ActivityBucket>();
  const buckets: ActivityBucket[] = [];
  for (let t = first; t <= last; t += HOUR_MS) {
    const b = { start: new Date(t).toISOString(), success: 0, error: 0 };
    buckets.push(b);
    byHour.set(b.start.slice(0, 13), b);
  }
  const totals = { success: 0, error: 0 };
  for (const r of rows) {
    // Rows stamped after `now` (a clock step) fall outside every bucket and are left out.
    const b = byHour.get(r.hour);
    if (!b || (r.outcome !== "success" && r.outcome !== "error")) continue;
    b[r.outcome] += r.n;
    totals[r.outcome] += r.n;
  }
  return { hours: o.hours, buckets, totals };
}
