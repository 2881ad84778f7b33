/**
 * `npm run bench [-- suite ...]`: prints figures and ratios against the targets in the issues.
 * Suites: scim (store and lists), groups (large-group PATCH, concurrent clients), provisioning
 * (SCIM to slapd end to end), reconcile (dry run at 100,000 users), group-members (one member
 * added to a 10,000 and a 100,000-member group until visible in slapd), patch (PATCH time per
 * operation from 10 operations to scim.limits.patchOperations), tokens (the bearer-token check
 * beside a small PATCH), audit (the audit log's cost per row), replicas (SCIM writes/s, latency
 * and delivery lag on SQLite, one PostgreSQL replica and two, each its own `serve` process),
 * scale (a million users and a 100,000-member group: lookups, index and cursor pages, group PATCH,
 * size and RSS; run only when named, it seeds for minutes). Without arguments, all suites but
 * scale run.
 */
import { benchAuditAppend } from "./audit-append.js";
import { benchGroupMembers } from "./group-members.js";
import { benchPatchOps } from "./patch-ops.js";
import { benchProvisioning } from "./provisioning.js";
import { benchReconcile } from "./reconcile.js";
import { benchReplicas } from "./replicas.js";
import { benchScimGroups } from "./scim-groups.js";
import { benchScale } from "./scale.js";
import { benchScimStore } from "./scim-store.js";
import { benchTokenCheck } from "./token-check.js";

const suites: Record<string, () => Promise<void>> = {
  scim: () => benchScimStore(Number(process.env.BENCH_USERS ?? 100_000)),
  groups: () => benchScimGroups(Number(process.env.BENCH_GROUP_MEMBERS ?? 100_000)),
  provisioning: () => benchProvisioning(Number(process.env.BENCH_PROV_USERS ?? 10_000), Number(process.env.BENCH_PROV_CONCURRENCY ?? 8)),
  reconcile: () => benchReconcile(Number(process.env.BENCH_RECONCILE_USERS ?? 100_000)),
  patch: () => benchPatchOps(),
  tokens: () => benchTokenCheck(Number(process.env.BENCH_TOKENS ?? 10)),
  audit: () => benchAuditAppend(Number(process.env.BENCH_AUDIT_ROWS ?? 20_000)),
  replicas: () => benchReplicas(Number(process.env.BENCH_REPLICAS_USERS ?? 3000), Number(process.env.BENCH_REPLICAS_WARMUP ?? 300)),
  "group-members": () => benchGroupMembers((process.env.BENCH_GROUP_SIZES ?? "10000,100000").split(",").map(Number)),
  scale: () => benchScale(Number(process.env.BENCH_SCALE_USERS ?? 1_000_000), Number(process.env.BENCH_SCALE_GROUP ?? 100_000)),
};
/** Suites that run only when named. */
const named = new Set(["scale"]);

const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const unknown = wanted.filter((w) => !(w in suites));
if (unknown.length) {
  console.error(`unknown suite(s): ${unknown.join(", ")}; known: ${Object.keys(suites).join(", ")}`);
  process.exit(2);
}
console.log(`scimbridge bench on Node ${process.version}, ${new Date().toISOString()}`);
for (const name of wanted.length ? wanted : Object.keys(suites).filter((s) => !named.has(s))) await suites[name]!();
