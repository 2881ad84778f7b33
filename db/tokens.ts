/**
 * The tokens table: one row per SCIM client's bearer token, holding only its keyed hash and a
 * short hint (the hashing is server/auth/tokens.ts's).
 */
import { asc, eq, notLike } from "drizzle-orm";
import type { Db } from "./sqlite-db.js";
import { tokens } from "./schema.js";
import type { Surface, Transactor } from "./transactor.js";

export type TokenRow = typeof tokens.$inferSelect;

export interface TokenInfo {
  name: string;
  hint: string;
  created: string;
  lastUsed: string | null;
}

export class TokenStore {
  constructor(
    private readonly db: Db,
    private readonly store: Transactor<{ tokens: Surface<TokenStore> }>,
  ) {}

  /** Every stored token's name and hash (verification compares against all of them). */
  async hashes(): Promise<{ name: string; hash: string }[]> {
    return this.db.select({ name: tokens.name, hash: tokens.hash }).from(tokens).all();
  }

  /** Names, hints and times, oldest first (never the hashes). */
  async list(): Promise<TokenInfo[]> {
    return this.db
      .select({ name: tokens.name, hint: tokens.hint, created: tokens.created, lastUsed: tokens.lastUsed })
      .from(tokens)
      .orderBy(asc(tokens.created))
      .all();
  }

  async has(name: string): Promise<boolean> {
    return this.db.select({ name: tokens.name }).from(tokens).where(eq(tokens.name, name)).get() !== undefined;
  }

  async add(row: { name: string; hash: string; hint: string; created: string }): Promise<void> {
    this.db.insert(tokens).values(row).run();
  }

  /** Replaces the token of that name, if any, in one transaction. */
  async replace(row: { name: string; hash: string; hint: string; created: string }): Promise<void> {
    await this.store.transaction(async ({ tokens }) => {
      await tokens.remove(row.name);
      await tokens.add(row);
    });
  }

  /** Whether a token of that name was there. */
  async remove(name: string): Promise<boolean> {
    return this.db.delete(tokens).where(eq(tokens.name, name)).run().changes > 0;
  }

  async markUsed(name: string, at: string): Promise<void> {
    this.db.update(tokens).set({ lastUsed: at }).where(eq(tokens.name, name)).run();
  }

  /**
   * Rewrites, in one immediate transaction, the rows not stored as a keyed hash (`hmac$…`): `rekey`
   * gives each its new hash and hint, or undefined to leave it. Returns how many were rewritten.
   */
  async rekeyUnkeyed(rekey: (row: { name: string; hash: string; hint: string }) => { hash: string; hint: string } | undefined): Promise<number> {
    return this.store.transaction(({ tokens: store }) => store.rekeyHere(rekey));
  }

  /** rekeyUnkeyed's body, on this connection (inside the transaction it takes). */
  async rekeyHere(rekey: (row: { name: string; hash: string; hint: string }) => { hash: string; hint: string } | undefined): Promise<number> {
    const rows = this.db.select({ name: tokens.name, hash: tokens.hash, hint: tokens.hint }).from(tokens).where(notLike(tokens.hash, "hmac$%")).all();
    let n = 0;
    for (const r of rows) {
      const next = rekey(r);
      if (!next) continue;
      this.db.update(tokens).set(next).where(eq(tokens.name, r.name)).run();
      n += 1;
    }
    return n;
  }
}
