/** `scimbridge token create|list|revoke`: bearer tokens of SCIM clients, stored as keyed hashes. */
import { existsSync } from "node:fs";
import type { Command } from "commander";
import type { TokenService } from "../auth/tokens.js";
import { globalsOf, loadFor, requireDatabase, sayDatabase, type Loaded } from "./context.js";
import { CommandError, EXIT, out, say } from "./io.js";

/** The token store of the configured database (modules loaded on use: `--help` stays fast). */
async function withTokens<T>(l: Loaded, use: (tokens: TokenService) => Promise<T>): Promise<T> {
  const [{ openConfiguredStore }, { TokenService, TokenError }, { secretKeyOf }] = await Promise.all([import("../store.js"), import("../auth/tokens.js"), import("../secret-key.js")]);
  const store = await openConfiguredStore(l.config);
  try {
    return await use(new TokenService(store, secretKeyOf(l.config)));
  } catch (e) {
    // A name taken, a name the store refuses: the operator's input (exit 2).
    if (e instanceof TokenError) throw new CommandError(e.message, EXIT.usage);
    throw e;
  } finally {
    await store.close();
  }
}

export function registerToken(program: Command): void {
  const token = program.command("token").description("bearer tokens of SCIM clients: create, list, revoke");
  token
    .command("create")
    .description("issue a bearer token for a SCIM client; the token is printed once, on stdout")
    .argument("<name>", "the client name (audit log, traffic inspector)")
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const l = loadFor(g);
      const fresh = !existsSync(l.config.storage.file);
      const created = await withTokens(l, (t) => t.create(name));
      out(g.json ? JSON.stringify({ name, token: created }) : created);
      sayDatabase(l, fresh);
      say(`token ${name} created; it is shown only now, store it securely`);
    });
  token
    .command("list")
    .description("token names, hints (at most 4 characters) and last use; never the tokens")
    .action(async (_o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const l = loadFor(g);
      requireDatabase(l, "no tokens");
      await withTokens(l, async (tokens) => {
        const list = await tokens.list();
        if (g.json) out(JSON.stringify(list));
        else for (const t of list) out(`${t.name}\t${t.hint}…\tcreated ${t.created}\tlast used ${t.lastUsed ?? "never"}`);
        for (const name of await tokens.storedUnderOtherKey()) say(`token ${name} was stored under another secret key and cannot work: revoke and re-create it`);
      });
    });
  token
    .command("revoke")
    .description("revoke a token (requests with it get 401 at once)")
    .argument("<name>", "the client name")
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const l = loadFor(g);
      requireDatabase(l, "no tokens to revoke");
      if (!(await withTokens(l, (t) => t.revoke(name)))) throw new CommandError(`no token named ${name}`);
      out(g.json ? JSON.stringify({ name, revoked: true }) : `token ${name} revoked`);
      sayDatabase(l);
    });
}
