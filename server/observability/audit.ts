/**
 * Audit log (issue 6): every SCIM write (client, method, resource, status) and every LDAP write
 * (target, DN, operation, outcome) in the audit_log table, pruned after `audit.retentionDays`, and
 * exported as JSON lines (admin API and `scimbridge audit export`). Never holds attribute values:
 * LDAP rows name the attributes written, not what was written (passwords go through here).
 */
import { AsyncResource } from "node:async_hooks";
import type { RequestHandler } from "express";
import type { AuditEntry, AuditRow } from "../../db/audit.js";
import { isDatabaseBusy } from "../../db/busy.js";
import type { Store } from "../../db/store.js";
import type { Logger } from "../logger.js";

export type AuditKind = "scim" | "ldap";
export type { AuditRow };

/** What the delivery worker reports per LDAP operation it ran (or that failed). */
export interface LdapWriteEvent {
  target: string;
  rule: string;
  resourceType: string;
  resourceId: string;
  operation: string;
  dn: string;
  outcome: "success" | "error";
  /** LDAP result code of a failure. */
  code?: number | undefined;
  /** Attribute names written, a rename's new RDN, or a failure's message. */
  detail?: string | undefined;
}

export interface AuditQuery {
  since?: string | undefined;
  kind?: AuditKind | undefined;
  /** One resource's rows (index audit_log_resource: resource_type, resource_id, seq). */
  resourceType?: string | undefined;
  resourceId?: string | undefined;
  order?: "asc" | "desc" | undefined;
  limit?: number | undefined;
}

const WRITE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const DAY_MS = 86_400_000;
const BUSY_FLUSH_RETRY_MS = 1000;
/**
 * Rows held in memory while the disk is full or read-only; beyond this the oldest are dropped
 * and counted (a row saying how many is written once the disk takes writes again), so a long
 * outage cannot exhaust memory.
 */
const MAX_PENDING_ROWS = 50_000;

export class AuditLog {
  /** Rows waiting for the end of this event-loop turn (see record). */
  private pending: AuditEntry[] = [];
  private flushQueued = false;
  private dropped = 0;
  private readonly home = new AsyncResource("AuditLog");
  /** The flush in progress: flushes run one after the other, so rows keep their order. */
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Pick<Store, "audit" | "isOpen" | "health" | "transaction">,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * The rows of one event-loop turn, SCIM and LDAP, are written together in one transaction
   * (setImmediate): a commit per request was about 7% of a POST's CPU (measured with --cpu-prof,
   * 16 clients), and an LDAP row in the delivery's own commit sat between slapd's reply and the
   * recorded outcome. Every read of the log flushes first, and so does close. A crash loses at
   * most the current turn's rows, never a change or a delivery state.
   */
  private record(row: AuditEntry): void {
    this.pending.push(row);
    if (this.pending.length > MAX_PENDING_ROWS) {
      this.dropped += this.pending.length - MAX_PENDING_ROWS;
      this.pending.splice(0, this.pending.length - MAX_PENDING_ROWS);
    }
    if (this.flushQueued) return;
    this.flushQueued = true;
    // From the log's own async context, never a caller's transaction (db/group-commit.ts says why).
    this.home.runInAsyncScope(() => setImmediate(() => void this.flushInBackground()));
  }

  /**
   * The end-of-turn flush, outside any request: a database kept busy past busy_timeout (a CLI
   * command writing to the same file), or a full or read-only disk, keeps the rows for a later try
   * instead of throwing where nothing catches it (an uncaught throw in setImmediate ends the
   * process). Anything else is a bug, and still must not end the process: the rows are dropped.
   */
  private async flushInBackground(): Promise<void> {
    try {
      await this.flush();
    } catch (e) {
      if (!isDatabaseBusy(e)) {
        this.dropped += this.pending.length;
        this.pending = [];
        return;
      }
      this.retryLater();
    }
    if (this.pending.length) this.retryLater();
  }

  private retryLater(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    this.home.runInAsyncScope(() => setTimeout(() => void this.flushInBackground(), BUSY_FLUSH_RETRY_MS).unref());
  }

  /** Records a SCIM write once its response is sent. */
  recordScim(e: { client?: string | undefined; method: string; resourceType?: string | undefined; resourceId?: string | undefined; status: number; detail?: string | undefined }): void {
    this.record({ at: this.now().toISOString(), kind: "scim", client: e.client ?? null, operation: e.method, resourceType: e.resourceType ?? null, resourceId: e.resourceId ?? null, target: null, dn: null, outcome: String(e.status), detail: e.detail ?? null });
  }

  /** Records one LDAP operation the delivery worker ran (or that failed). */
  recordLdap(e: LdapWriteEvent): void {
    const detail = e.outcome === "error" ? [e.code === undefined ? undefined : `code ${e.code}`, e.detail].filter(Boolean).join(": ") : e.detail;
    this.record({ at: this.now().toISOString(), kind: "ldap", client: `rule:${e.rule}`, operation: e.operation, resourceType: e.resourceType, resourceId: e.resourceId, target: e.target, dn: e.dn, outcome: e.outcome, detail: detail ? detail.slice(0, 2000) : null });
  }

  /** Writes the rows recorded so far. Safe to call at any time (reads and shutdown do). */
  flush(): Promise<void> {
    this.flushQueued = false;
    const done = this.flushing.then(() => this.writePending());
    this.flushing = done.catch(() => undefined);
    return done;
  }

  private async writePending(): Promise<void> {
    if (!this.pending.length || !this.store.isOpen()) return;
    if (this.dropped) {
      const n = this.dropped;
      this.dropped = 0;
      this.pending.push({ at: this.now().toISOString(), kind: "scim", client: null, operation: "audit", resourceType: null, resourceId: null, target: null, dn: null, outcome: "error", detail: `${n} audit rows dropped: the database could not be written for a long time` });
    }
    const rows = this.pending;
    this.pending = [];
    try {
      await this.store.audit.append(rows);
    } catch (e) {
      // Busy, or the disk is full or read-only: nothing was written, and the rows go in with a
      // later flush. A storage fault is not the reader's problem (reads still work): it is
      // reported to /readyz and retried in the background.
      const busy = isDatabaseBusy(e);
      const fault = busy ? undefined : this.store.health.note(e, "audit");
      if (busy || fault) this.pending = rows.concat(this.pending);
      if (fault) {
        this.retryLater();
        return;
      }
      throw e;
    }
    this.store.health.ok();
  }

  /** Deletes rows older than `retentionDays`; returns how many. */
  async prune(retentionDays: number): Promise<number> {
    await this.flush();
    const cutoff = new Date(this.now().getTime() - retentionDays * DAY_MS).toISOString();
    return this.store.transaction((tx) => tx.audit.pruneBefore(cutoff));
  }

  /**
   * Oldest first (or newest first with `order: "desc"`), from `since` (ISO time, inclusive),
   * optionally one resource's rows only, in pages by seq so a big export is streamed.
   */
  async *export(q: AuditQuery = {}): AsyncGenerator<AuditRow> {
    await this.flush();
    const newest = q.order === "desc";
    let cursor: number | undefined;
    let left = q.limit ?? Number.MAX_SAFE_INTEGER;
    while (left > 0) {
      const size = Math.min(left, 1000);
      const page = await this.store.audit.page({ after: cursor, newest, since: q.since, kind: q.kind, resourceType: q.resourceType, resourceId: q.resourceId, limit: size });
      for (const row of page) yield row;
      if (page.length < size) return;
      left -= page.length;
      cursor = page[page.length - 1]!.seq;
    }
  }
}

/** `/Users/<id>` → ["User", id]; `/Groups` → ["Group"]; `/Bulk` → ["Bulk"]. */
function resourceOf(path: string): { type?: string; id?: string } {
  const m = /^\/(Users|Groups|Bulk|Me)(?:\/([^/?]+))?/i.exec(path);
  if (!m) return {};
  const type = { users: "User", groups: "Group", bulk: "Bulk", me: "Me" }[m[1]!.toLowerCase()];
  return { type, id: m[2] === undefined ? undefined : decodeURIComponent(m[2]) };
}

/**
 * Records every SCIM write (POST/PUT/PATCH/DELETE other than searches) once its response is done,
 * failed ones included with their status. Mounted on the SCIM base path.
 */
export function auditScimWrites(audit: AuditLog, logger: Logger): RequestHandler {
  return (req, res, next) => {
    if (!WRITE_METHODS.has(req.method) || /\/\.search$/i.test(req.path)) {
      next();
      return;
    }
    // Now: routers below rewrite req.url while they run.
    const { type, id } = resourceOf(req.path);
    let done = false;
    const record = () => {
      if (done) return;
      done = true;
      // A create names its new resource in Location (RFC 7644 §3.3).
      const location = res.getHeader("location");
      const created = req.method === "POST" && typeof location === "string" ? location.split("/").pop() : undefined;
      try {
        audit.recordScim({
          client: req.scimClient,
          method: req.method,
          resourceType: type,
          resourceId: id ?? (created ? decodeURIComponent(created) : undefined),
          status: res.statusCode,
          detail: [`request ${req.id ?? "-"}`, res.writableFinished ? undefined : "aborted"].filter(Boolean).join("; "),
        });
      } catch (e) {
        logger.error({ err: e, reqId: req.id }, "audit log write failed");
      }
    };
    res.once("finish", record);
    res.once("close", record);
    next();
  };
}
