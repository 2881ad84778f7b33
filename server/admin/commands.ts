/**
 * `scimbridge status | failures | retry | resync`: the admin API's queries (./status.ts) run
 * directly on the SQLite file, so they work whether the server runs or not. They only change
 * sync state and the outbox; a running server's worker picks the rows up on its next poll
 * (provisioning.pollMs), a stopped one when it starts.
 */
import { existsSync } from "node:fs";
import { openConfiguredStore } from "../store.js";
import type { Config } from "../config/schema.js";
import { embeddedRuleConfig } from "../provisioning.js";
import { listFailures, parseResourceRef, requestResync, retryFailed, STATES, syncSummary, type PublicRow } from "./status.js";

export type AdminCommand = "status" | "failures" | "retry" | "resync";

export interface AdminCommandArgs {
  json: boolean;
  target?: string | undefined;
  rule?: string | undefined;
  all?: boolean | undefined;
  /** `<type>/<id>` for retry and resync. */
  resource?: string | undefined;
}

/** A usage problem (exit 2), told apart from runtime failures (exit 1). */
export class AdminUsageError extends Error {}

const FAILURES_PAGE = 1000;

export async function adminCommand(command: AdminCommand, given: Config, a: AdminCommandArgs, out: (line: string) => void): Promise<number> {
  // Parse arguments before touching the file, so a usage error never opens (or creates) it.
  const ref = a.resource === undefined ? undefined : parseResourceRef(a.resource);
  if (a.resource !== undefined && !ref) throw new AdminUsageError(`expected <type>/<id> (e.g. User/2819c223-…), got ${JSON.stringify(a.resource)}`);
  if (command === "retry" && a.all === (ref !== undefined)) throw new AdminUsageError("retry needs either --all or one <type>/<id>");
  if (command === "resync" && !ref) throw new AdminUsageError("resync needs <type>/<id>");

  if (given.storage.url === undefined && !existsSync(given.storage.file)) {
    process.stderr.write(`no database at ${given.storage.file}\n`);
    return 1;
  }
  // The embedded directory's rule counts as configured too, as in `preview`; nothing is started.
  const e = given.embeddedDirectory;
  const config = e.enabled ? embeddedRuleConfig(given, `ldap://127.0.0.1:${e.port}`) : given;
  const store = await openConfiguredStore(config);
  const at = new Date().toISOString();
  try {
    switch (command) {
      case "status": {
        const summary = await syncSummary(store, { rules: [...config.userRules, ...config.groupRules], targets: config.targets.map((t) => t.name) });
        if (a.json) out(JSON.stringify(summary));
        else {
          const fmt = (c: Record<string, number>) => STATES.map((s) => `${s} ${c[s]}`).join(", ");
          if (!summary.targets.length) out("no targets configured");
          for (const t of summary.targets) {
            out(`target ${t.name}: ${fmt(t.counts)}`);
            for (const r of t.rules) out(`  rule ${r.name}${r.configured ? "" : " (no longer configured)"}: ${fmt(r.counts)}`);
          }
        }
        return 0;
      }
      case "failures": {
        const page = await listFailures(store, { target: a.target, rule: a.rule, startIndex: 1, count: FAILURES_PAGE });
        if (a.json) out(JSON.stringify(page));
        else {
          for (const f of page.failures) out(formatFailure(f));
          out(`${page.totalResults} failing deliver${page.totalResults === 1 ? "y" : "ies"}${page.totalResults > page.itemsPerPage ? ` (newest ${page.itemsPerPage} shown; --json or the admin API pages through all)` : ""}`);
        }
        return 0;
      }
      case "retry": {
        const retried = await retryFailed(store, ref ?? { all: true }, at);
        if (a.json) out(JSON.stringify({ retried }));
        else out(`${retried} deliver${retried === 1 ? "y" : "ies"} set back to pending; a running server's worker takes ${retried === 1 ? "it" : "them"} on its next poll`);
        return 0;
      }
      case "resync": {
        const seq = await requestResync(store, ref!.type, ref!.id, at, "cli");
        if (seq === undefined) {
          process.stderr.write(`no ${ref!.type} ${ref!.id} and no delivery state for it\n`);
          return 1;
        }
        if (a.json) out(JSON.stringify({ type: ref!.type, id: ref!.id, change: seq }));
        else out(`${ref!.type}/${ref!.id} queued for resync (change ${seq}); a running server's worker delivers it on its next poll`);
        return 0;
      }
    }
  } finally {
    await store.close();
  }
}

function formatFailure(f: PublicRow): string {
  const code = f.lastCode === null ? "" : `, LDAP ${f.lastCode}`;
  const next = f.state === "retrying" && f.nextAttempt ? `, next ${f.nextAttempt}` : "";
  return `${f.type}/${f.id} rule ${f.rule} (target ${f.target}): ${f.state}, ${f.attempts} attempt${f.attempts === 1 ? "" : "s"}${code}, last ${f.lastAttempt ?? "never"}${next}\n  ${f.lastError ?? ""}`;
}
