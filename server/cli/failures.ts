/**
 * `scimbridge failures`: failed and retrying deliveries, newest attempt first, every one of them:
 * read a page at a time and written as they are read, so the list has no cap and no size in
 * memory. --json is one document (the admin API's page shape, with all rows), --ndjson one row a
 * line for `jq` and `head`.
 */
import { InvalidArgumentError, type Command } from "commander";
import type { FailureQuery, listFailures as ListFailuresFn, PublicRow } from "../admin/status.js";
import { globalsOf, loadFor, requireDatabase } from "./context.js";
import { out, outputClosed, streamLines } from "./io.js";
import type { Store } from "../../db/store.js";

type ListFailures = typeof ListFailuresFn;

const PAGE = 1000;

/** An LDAP result code (RFC 4511 §4.1.9: an integer 0-16654 in practice). */
function resultCode(v: string): number {
  if (!/^\d{1,5}$/.test(v)) throw new InvalidArgumentError("an LDAP result code, e.g. 65");
  return Number(v);
}

/** Every row of the query, a page at a time (the pages are stable: a total order, admin/status.ts). */
async function* allFailures(listFailures: ListFailures, store: Store, q: Omit<FailureQuery, "startIndex" | "count">): AsyncGenerator<PublicRow> {
  for (let start = 1; ; start += PAGE) {
    const page = await listFailures(store, { ...q, startIndex: start, count: PAGE });
    yield* page.failures;
    if (page.failures.length < PAGE || outputClosed()) return;
  }
}

function formatFailure(f: PublicRow): string {
  const code = f.lastCode === null ? "" : `, LDAP ${f.lastCode}`;
  const next = f.state === "retrying" && f.nextAttempt ? `, next ${f.nextAttempt}` : "";
  return `${f.type}/${f.id} rule ${f.rule} (target ${f.target}): ${f.state}, ${f.attempts} attempt${f.attempts === 1 ? "" : "s"}${code}, last ${f.lastAttempt ?? "never"}${next}\n  ${f.lastError ?? ""}`;
}

export function registerFailures(program: Command): void {
  program
    .command("failures")
    .description("failed and retrying deliveries with the LDAP result code and message, newest attempt first (all of them)")
    .option("--target <name>", "only this target")
    .option("--rule <name>", "only this rule")
    .option("--code <n>", "only this LDAP result code", resultCode)
    .option("--ndjson", "one JSON object a line (streams; for jq and head)")
    .action(async (o: { target?: string; rule?: string; code?: number; ndjson?: boolean }, cmd: Command) => {
      const g = globalsOf(cmd);
      const loaded = loadFor(g);
      requireDatabase(loaded, "no deliveries");
      const [{ openConfiguredStore }, { listFailures }] = await Promise.all([import("../store.js"), import("../admin/status.js")]);
      const all = (store: Store, q: Omit<FailureQuery, "startIndex" | "count">) => allFailures(listFailures, store, q);
      const store = await openConfiguredStore(loaded.config);
      try {
        const q = { target: o.target, rule: o.rule, code: o.code };
        const total = (await listFailures(store, { ...q, startIndex: 1, count: 0 })).totalResults;
        if (o.ndjson) await streamLines(all(store, q), (f) => JSON.stringify(f));
        else if (g.json) {
          // The admin API's page shape with every row, written row by row.
          process.stdout.write(`{"totalResults":${total},"startIndex":1,"itemsPerPage":${total},"failures":[`);
          let first = true;
          await streamLines(all(store, q), (f) => {
            const s = `${first ? "" : ","}${JSON.stringify(f)}`;
            first = false;
            return s;
          });
          out("]}");
        } else {
          await streamLines(all(store, q), formatFailure);
          out(`${total} failing deliver${total === 1 ? "y" : "ies"}`);
        }
      } finally {
        await store.close();
      }
    });
}
