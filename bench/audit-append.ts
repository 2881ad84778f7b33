/**
 * The audit log's append cost (server/observability/audit.ts): every SCIM write and every LDAP
 * operation the worker runs is one row, written in batches at the end of each event-loop turn.
 * Rows of LDAP adds are recorded and flushed in batches of BENCH_AUDIT_ROWS (default 20,000), to
 * a real SQLite file; the figure is the median µs per row over 5 batches, beside the time one
 * delivery may take at the throughput target (0.8 of plain ldapts adds, a few thousand a
 * second on this machine: a few hundred µs).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../db/open.js";
import { AuditLog } from "../server/observability/audit.js";
import { fmt, median, row } from "./lib.js";

export async function benchAuditAppend(rows = 20_000, batches = 5): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "scimbridge-bench-audit-"));
  const store = openStore(join(dir, "bench.db"));
  try {
    const audit = new AuditLog(store);
    const perRow: number[] = [];
    for (let b = 0; b <= batches; b++) {
      for (let i = 0; i < rows; i++) {
        audit.recordLdap({ target: "slapd", rule: "people", resourceType: "User", resourceId: `user-${b}-${i}`, operation: "add", dn: `uid=user${i},ou=people,dc=example,dc=com`, outcome: "success", detail: "cn, sn, uid, mail" });
      }
      const t0 = process.hrtime.bigint();
      await audit.flush();
      // The first batch warms the statement and the page cache.
      if (b > 0) perRow.push(Number(process.hrtime.bigint() - t0) / 1e3 / rows);
    }
    console.log(`\nAudit log: ${rows.toLocaleString("en")} LDAP-write rows a batch, ${batches} batches`);
    row("append, per row (median of batches)", `${fmt(median(perRow), 1)} µs`);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
