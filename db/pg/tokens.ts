/** The tokens table on PostgreSQL: db/tokens.ts's behaviour, on the tables of db/schema-pg.ts. */
import { asc, eq, notLike } from "drizzle-orm";
import { tokens } from "../schema-pg.js";
import type { TokenRows } from "../store.js";
import type { TokenInfo } from "../tokens.js";
import type { Transactor } from "../transactor.js";
import type { PgDb } from "./pg-db.js";

type Rekey = (row: { name: string; hash: string; hint: string }) => { hash: string; hint: string } | undefined;

export class PgTokenStore implements TokenRows {
  constructor(
    private readonly db: PgDb,
    private readonly store: Transactor<{ tokens: TokenRows }>,
  ) {}

  async hashes(): Promise<{ name: string; hash: string }[]> {
    return this.db.select({ name: tokens.name, hash: tokens.hash }).from(tokens);
  }

  async list(): Promise<TokenInfo[]> {
    return this.db
      .select({ name: tokens.name, hint: tokens.hint, created: tokens.created, lastUsed: tokens.lastUsed })
      .from(tokens)
      .orderBy(asc(tokens.created));
  }

  async has(name: string): Promise<boolean> {
    return (await this.db.select({ name: tokens.name }).from(tokens).where(eq(tokens.name, name))).length > 0;
  }

  async add(row: { name: string; hash: string; hint: string; created: string }): Promise<void> {
    await this.db.insert(tokens).values(row);
  }

  async replace(row: { name: string; hash: string; hint: string; created: string }): Promise<void> {
    await this.store.transaction(async ({ tokens }) => {
      await tokens.remove(row.name);
      await tokens.add(row);
    });
  }

  async remove(name: string): Promise<boolean> {
    return ((await this.db.delete(tokens).where(eq(tokens.name, name))).rowCount ?? 0) > 0;
  }

  async markUsed(name: string, at: string): Promise<void> {
    await this.db.update(tokens).set({ lastUsed: at }).where(eq(tokens.name, name));
  }

  async rekeyUnkeyed(rekey: Rekey): Promise<number> {
    return this.store.transaction(({ tokens: store }) => store.rekeyHere(rekey));
  }

  async rekeyHere(rekey: Rekey): Promise<number> {
    // FOR UPDATE: under READ COMMITTED another replica could rewrite the same rows between this
    // read and the updates; the row locks make the second rekey wait and then see keyed hashes.
    const rows = await this.db.select({ name: tokens.name, hash: tokens.hash, hint: tokens.hint }).from(tokens).where(notLike(tokens.hash, "hmac$%")).for("update");
    let n = 0;
    for (const r of rows) {
      const next = rekey(r);
      if (!next) continue;
      await this.db.update(tokens).set(next).where(eq(tokens.name, r.name));
      n += 1;
    }
    return n;
  }
}
