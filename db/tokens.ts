/**
 * The tokens table: one row per SCIM client's bearer token, holding only its keyed hash and a
 * short hint (the hashing is server/auth/tokens.ts's). Synchronous, like the rest of the store.
 */
import { asc, eq, notLike } from "drizzle-orm";
import type { Store } from "./open.js";
import { tokens } from "./schema.js";
import { writeTransaction } from "./transaction.js";

export type TokenRow = typeof tokens.$inferSelect;

export interface TokenInfo {
  name: string;
  hint: string;
  created: string;
  lastUsed: string | null;
}

export class TokenStore {
  constructor(private readonly store: Pick<Store, "db">) {}

  /** Every stored token's name and hash (verification compares against all of them). */
  hashes(): { name: string; hash: string }[] {
    return this.store.db.select({ name: tokens.name, hash: tokens.hash }).from(tokens).all();
  }

  /** Names, hints and times, oldest first (never the hashes). */
  list(): TokenInfo[] {
    return this.store.db
      .select({ name: tokens.name, hint: tokens.hint, created: tokens.created, lastUsed: tokens.lastUsed })
      .from(tokens)
      .orderBy(asc(tokens.created))
      .all();
  }

  has(name: string): boolean {
    return this.store.db.select({ name: tokens.name }).from(tokens).where(eq(tokens.name, name)).get() !== undefined;
  }

  add(row: { name: string; hash: string; hint: string; created: string }): void {
    this.store.db.insert(tokens).values(row).run();
  }

  /** Replaces the token of that name, if any, in one transaction. */
  replace(row: { name: string; hash: string; hint: string; created: string }): void {
    writeTransaction(this.store, () => {
      this.remove(row.name);
      this.add(row);
    });
  }

  /** Whether a token of that name was there. */
  remove(name: string): boolean {
    return this.store.db.delete(tokens).where(eq(tokens.name, name)).run().changes > 0;
  }

  markUsed(name: string, at: string): void {
    this.store.db.update(tokens).set({ lastUsed: at }).where(eq(tokens.name, name)).run();
  }

  /**
   * Rewrites, in one immediate transaction, the rows not stored as a keyed hash (`hmac$…`): `rekey`
   * gives each its new hash and hint, or undefined to leave it. Returns how many were rewritten.
   */
  rekeyUnkeyed(rekey: (row: { name: string; hash: string; hint: string }) => { hash: string; hint: string } | undefined): number {
    return writeTransaction(this.store, () => {
      const rows = this.store.db.select({ name: tokens.name, hash: tokens.hash, hint: tokens.hint }).from(tokens).where(notLike(tokens.hash, "hmac$%")).all();
      let n = 0;
      for (const r of rows) {
        const next = rekey(r);
        if (!next) continue;
        this.store.db.update(tokens).set(next).where(eq(tokens.name, r.name)).run();
        n += 1;
      }
      return n;
    });
  }
}
