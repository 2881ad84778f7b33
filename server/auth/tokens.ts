/**
 * Bearer tokens for SCIM clients. A token is 256 random bits; only its SHA-256 is stored (a fast
 * hash is right for high-entropy secrets: nothing to brute-force). Verification hashes the
 * presented token and compares it with every stored hash in constant time, without early exit.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { asc, eq } from "drizzle-orm";
import { isDatabaseBusy } from "../../db/busy.js";
import type { Db } from "../../db/open.js";
import { tokens } from "../../db/schema.js";

export const TOKEN_PREFIX = "scb_";

const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest();

export interface TokenInfo {
  name: string;
  hint: string;
  created: string;
  lastUsed: string | null;
}

export class TokenError extends Error {}

/**
 * Writes to the tokens table through this connection, per connection: a TokenService on the same
 * connection sees them at once. Other connections' writes (the CLI's `token create`/`revoke` in
 * another process) change SQLite's data_version instead.
 */
const localWrites = new WeakMap<object, number>();

export class TokenService {
  /** Last-used times are written at most once a minute per token, not on every request. */
  private readonly touched = new Map<string, number>();
  /** The stored hashes, read again whenever a write may have changed them (see verify). */
  private cache: { version: string; rows: { name: string; hash: Buffer }[] } | undefined;

  constructor(private readonly db: Db) {}

  private wrote(): void {
    localWrites.set(this.db.$client, (localWrites.get(this.db.$client) ?? 0) + 1);
  }

  /**
   * The stored hashes, cached between writes: verify runs on every request, and reading the
   * table each time was a few percent of a small PATCH (measured). PRAGMA data_version moves when
   * another connection commits, so a revocation from the CLI applies to the next request.
   */
  private hashes(): { name: string; hash: Buffer }[] {
    const sqlite = this.db.$client;
    // A prepared statement (cached by the connection): pragma() would compile one per request.
    const { data_version: dataVersion } = sqlite.prepare("PRAGMA data_version").get() as { data_version: number };
    const version = `${dataVersion}:${localWrites.get(sqlite) ?? 0}`;
    if (this.cache?.version !== version) {
      const rows = sqlite.prepare("SELECT name, hash FROM tokens").all() as { name: string; hash: string }[];
      this.cache = { version, rows: rows.map((r) => ({ name: r.name, hash: Buffer.from(r.hash, "hex") })) };
    }
    return this.cache.rows;
  }

  /** Creates a token and returns it: the only time the secret is ever seen. */
  create(name: string): string {
    if (!/^[\w.@-]{1,64}$/.test(name)) throw new TokenError(`token name must be 1-64 of [A-Za-z0-9_.@-], got ${JSON.stringify(name)}`);
    if (this.db.select().from(tokens).where(eq(tokens.name, name)).get()) {
      throw new TokenError(`a token named ${name} already exists (revoke it first)`);
    }
    const token = TOKEN_PREFIX + randomBytes(32).toString("base64url");
    this.store(name, token);
    return token;
  }

  /** Stores a token chosen elsewhere (SCIM_TOKEN), replacing any token of that name. */
  put(name: string, token: string): void {
    if (token.length < 16) throw new TokenError("a token must be at least 16 characters");
    this.db.delete(tokens).where(eq(tokens.name, name)).run();
    this.store(name, token); // counts as the write that invalidates cached hashes
  }

  private store(name: string, token: string): void {
    this.db
      .insert(tokens)
      .values({ name, hash: sha256(token).toString("hex"), hint: token.slice(0, TOKEN_PREFIX.length + 4), created: new Date().toISOString() })
      .run();
    this.wrote();
  }

  list(): TokenInfo[] {
    return this.db
      .select({ name: tokens.name, hint: tokens.hint, created: tokens.created, lastUsed: tokens.lastUsed })
      .from(tokens)
      .orderBy(asc(tokens.created))
      .all();
  }

  count(): number {
    return this.list().length;
  }

  revoke(name: string): boolean {
    const gone = this.db.delete(tokens).where(eq(tokens.name, name)).run().changes > 0;
    this.wrote();
    return gone;
  }

  /** The name of the client holding `token`, or undefined. */
  verify(token: string): string | undefined {
    const presented = sha256(token);
    let match: string | undefined;
    // Every stored hash is compared (in constant time), so timing says nothing about which matched.
    for (const row of this.hashes()) {
      if (row.hash.length === presented.length && timingSafeEqual(row.hash, presented) && match === undefined) match = row.name;
    }
    if (match !== undefined) this.markUsed(match);
    return match;
  }

  private markUsed(name: string): void {
    const now = Date.now();
    if (now - (this.touched.get(name) ?? 0) < 60_000) return;
    this.touched.set(name, now);
    try {
      this.db.update(tokens).set({ lastUsed: new Date(now).toISOString() }).where(eq(tokens.name, name)).run();
    } catch (e) {
      // Last use is informational: a database busy with another writer must not refuse a client
      // that authenticated; the next request records it.
      if (!isDatabaseBusy(e)) throw e;
      this.touched.delete(name);
    }
  }
}
