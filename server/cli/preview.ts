/**
 * `scimbridge preview --user ID`: the delivery worker's decision for one user per rule, computed
 * from the store (the SCIM service without its HTTP app); nothing is sent, no directory contacted.
 */
import type { Command } from "commander";
import type { WrittenEntry } from "../../hooks/planning/planner.js";
import type { ResourceService } from "../scim/service.js";
import { globalsOf, loadFor, requireDatabase } from "./context.js";
import { CommandError, out, UsageError } from "./io.js";

export function registerPreview(program: Command): void {
  program
    .command("preview")
    .description("dry run: for each rule, the DN and LDAP operations a user's delivery would send now, without contacting any directory")
    .option("--user <id|userName>", "the user (userName compares case-insensitively)")
    .action(async (o: { user?: string }, cmd: Command) => {
      const g = globalsOf(cmd);
      if (!o.user) throw new UsageError("preview needs --user <id|userName>");
      const loaded = loadFor(g);
      requireDatabase(loaded, "nothing to preview");
      const [{ openConfiguredStore }, { formatPreview, previewUser, printablePreview }, { SchemaRegistry }, { compileRules, embeddedRuleConfig }, { resourceReader }, { ResourceService }] = await Promise.all([
        import("../store.js"),
        import("../../hooks/delivery/preview.js"),
        import("../../schemas/registry.js"),
        import("../provisioning.js"),
        import("../../db/read-resource.js"),
        import("../scim/service.js"),
      ]);
      // The embedded directory's rule is previewed too, without starting its slapd.
      const e = loaded.config.embeddedDirectory;
      const config = e.enabled ? embeddedRuleConfig(loaded.config, `ldap://127.0.0.1:${e.port}`) : loaded.config;
      const store = await openConfiguredStore(config);
      try {
        const registry = new SchemaRegistry(config.scim.extensions);
        const service = new ResourceService({ store, registry, paging: config.scim });
        const user = (await resourceReader(store, registry)("User", o.user)) ?? (await byUserName(service, o.user));
        if (!user) throw new CommandError(`no user with id or userName ${JSON.stringify(o.user)}`);
        const id = String(user.id);
        const rows = await store.syncStatus.rowsOf("User", id);
        const previews = await previewUser({
          rules: compileRules(config, registry),
          targets: config.targets,
          user,
          stateOf: (rule) => {
            const row = rows.find((r) => r.rule === rule);
            if (!row) return undefined;
            return { state: row.state, written: row.written ? (JSON.parse(row.written) as WrittenEntry) : undefined, passwordPending: row.secret !== null };
          },
        });
        if (g.json) out(JSON.stringify({ user: { id, userName: user.userName }, rules: previews.map(printablePreview) }));
        else {
          out(`user ${String(user.userName)} (${id})`);
          if (!previews.length) out("no rules configured");
          for (const line of formatPreview(previews)) out(line);
        }
      } finally {
        await store.close();
      }
    });
}

/** By userName, case-insensitively as SCIM compares it (RFC 7643 §4.1.1). */
async function byUserName(service: ResourceService, who: string): Promise<Record<string, unknown> | undefined> {
  return (await service.list("User", { filter: `userName eq ${JSON.stringify(who)}`, descending: false, startIndex: 1, count: 1 }, { baseUrl: "" })).resources[0];
}
