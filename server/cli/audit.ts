/** `scimbridge audit export`: the audit log as JSON lines, oldest first, streamed. */
import { InvalidArgumentError, type Command } from "commander";
import { globalsOf, loadFor, requireDatabase } from "./context.js";
import { streamLines } from "./io.js";

const isoTime = (v: string) => {
  if (Number.isNaN(Date.parse(v))) throw new InvalidArgumentError("an ISO 8601 time, e.g. 2024-05-01T00:00:00Z");
  return new Date(v).toISOString();
};
const kind = (v: string) => {
  if (v !== "scim" && v !== "ldap") throw new InvalidArgumentError("scim or ldap");
  return v;
};

export function registerAudit(program: Command): void {
  const audit = program.command("audit").description("the audit log of SCIM and LDAP writes");
  audit
    .command("export")
    .description("print the audit log (SCIM and LDAP writes), oldest first, as JSON lines (streamed; no row limit)")
    .option("--since <iso>", "rows at or after this time", isoTime)
    .option("--kind <kind>", "scim or ldap", kind)
    .action(async (o: { since?: string; kind?: "scim" | "ldap" }, cmd: Command) => {
      const loaded = loadFor(globalsOf(cmd));
      requireDatabase(loaded, "nothing to export");
      const [{ openConfiguredStore }, { AuditLog }] = await Promise.all([import("../store.js"), import("../observability/audit.js")]);
      const store = await openConfiguredStore(loaded.config);
      try {
        await streamLines(new AuditLog(store).export({ since: o.since, kind: o.kind }), (row) => JSON.stringify(row));
      } finally {
        await store.close();
      }
    });
}
