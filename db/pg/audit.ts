/** The audit_log table on PostgreSQL: db/audit.ts's behaviour, on the tables of db/schema-pg.ts. */
import { and, asc, count, desc, eq, gt, gte, lt, sql } from "drizzle-orm";
import type { AuditEntry, AuditPageQuery, AuditRow } from "../audit.js";
import { auditLog } from "../schema-pg.js";
import type { AuditRows } from "../store.js";
import type { Transactor } from "../transactor.js";
import type { PgDb } from "./pg-db.js";

/** Rows per INSERT: PostgreSQL takes at most 65535 bind parameters per statement (10 per row here). */
const ROWS_PER_INSERT = 1000;

export class PgAuditStore implements AuditRows {
  constructor(
    private readonly db: PgDb,
    private readonly store: Transactor<{ audit: AuditRows }>,
  ) {}

  async append(rows: AuditEntry[]): Promise<void> {
    await this.store.transaction((tx) => tx.audit.insertAll(rows));
  }

  /** One multi-row INSERT per chunk: a round trip per row would dominate a batch's cost over the network. */
  async insertAll(rows: AuditEntry[]): Promise<void> {
    for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) await this.db.insert(auditLog).values(rows.slice(i, i + ROWS_PER_INSERT));
  }

  async pruneBefore(cutoff: string): Promise<number> {
    return (await this.db.delete(auditLog).where(lt(auditLog.at, cutoff))).rowCount ?? 0;
  }

  async page(q: AuditPageQuery): Promise<AuditRow[]> {
    return this.db
      .select()
      .from(auditLog)
      .where(
        and(
          q.after === undefined ? undefined : q.newest ? lt(auditLog.seq, q.after) : gt(auditLog.seq, q.after),
          q.since ? gte(auditLog.at, q.since) : undefined,
          q.kind ? eq(auditLog.kind, q.kind) : undefined,
          q.resourceType ? eq(auditLog.resourceType, q.resourceType) : undefined,
          q.resourceId ? eq(auditLog.resourceId, q.resourceId) : undefined,
        ),
      )
      .orderBy(q.newest ? desc(auditLog.seq) : asc(auditLog.seq))
      .limit(q.limit);
  }

  /** As db/audit.ts: the first 13 characters of the ISO time name the UTC hour. */
  async ldapOutcomesPerHour(since: string): Promise<{ hour: string; outcome: string; n: number }[]> {
    const hour = sql<string>`substr(${auditLog.at}, 1, 13)`;
    return this.db
      .select({ hour, outcome: auditLog.outcome, n: count() })
      .from(auditLog)
      .where(and(eq(auditLog.kind, "ldap"), gte(auditLog.at, since)))
      .groupBy(hour, auditLog.outcome);
  }
}
