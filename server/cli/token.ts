/** `scimbridge token create|list|revoke`: bearer tokens of SCIM clients, stored as keyed hashes. */
import { existsSync } from "node:fs";
import type { Command } from "commander";
import { openStore } from "../../db/open.js";
import { TokenService } from "../auth/tokens.js";
import { secretKeyOf } from "../secret-key.js";
import { globalsOf, loadFor, requireDatabase, sayDatabase, type Loaded } from "./context.js";
import { CommandError, out, say } from "./io.js";

function withTokens<T>(l: Loaded, use: (tokens: TokenService) => T): T {
  const store = openStore(l.config.storage.file);
  try {
    return use(new TokenService(store.db, secretKeyOf(l.config)));
  } finally {
    store.close();
  }
}

export function registerToken(program: Command): void {
  const token = program.command("token").description("bearer tokens of SCIM clients: create, list, revoke");
  token
    .command("create")
    .description("issue a bearer token for a SCIM client; the token is printed once, on stdout")
    .argument("<name>", "the client name (audit log, traffic inspector)")
    .action((name: string, _o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const l = loadFor(g);
      const fresh = !existsSync(l.config.storage.file);
      const created = withTokens(l, (t) => t.create(name));
      out(g.json ? JSON.stringify({ name, token: created }) : created);
      sayDatabase(l, fresh);
      say(`token ${name} created; it is shown only now, store it securely`);
    });
  token
    .command("list")
    .description("token names, hints (at most 4 characters) and last use; never the tokens")
    .action((_o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const l = loadFor(g);
      requireDatabase(l, "no tokens");
      withTokens(l, (tokens) => {
        const list = tokens.list();
        if (g.json) out(JSON.stringify(list));
        else for (const t of list) out(`${t.name}\t${t.hint}…\tcreated ${t.created}\tlast used ${t.lastUsed ?? "never"}`);
        for (const name of tokens.storedUnderOtherKey()) say(`token ${name} was stored under another secret key and cannot work: revoke and re-create it`);
      });
    });
  token
    .command("revoke")
    .description("revoke a token (requests with it get 401 at once)")
    .argument("<name>", "the client name")
    .action((name: string, _o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const l = loadFor(g);
      requireDatabase(l, "no tokens to revoke");
      if (!withTokens(l, (t) => t.revoke(name))) throw new CommandError(`no token named ${name}`);
      out(g.json ? JSON.stringify({ name, revoked: true }) : `token ${name} revoked`);
      sayDatabase(l);
    });
}
