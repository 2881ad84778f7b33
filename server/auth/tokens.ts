/**
 * Bearer tokens for SCIM clients. A generated token is 256 random bits, but `SCIM_TOKEN` is chosen
 * by a person and may be short, so what is stored is a keyed hash: HMAC-SHA-256 under a key
 * derived from the server's secret key (provisioning.secretKey or secret.key, RFC 5869 HKDF) of
 * the token's SHA-256. A copy of the database alone then gives nothing to guess offline. The inner
 * SHA-256 is what older versions stored, so their rows are upgraded in place without the tokens.
 * Verification compares the presented token's hash with every stored one in constant time,
 * without early exit.
 */
import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import { isDatabaseBusy } from "../../db/busy.js";
import type { Db } from "../../db/open.js";
import { storageFaultCode } from "../../db/storage-faults.js";
import { TokenStore, type TokenInfo } from "../../db/tokens.js";

export type { TokenInfo };

export const TOKEN_PREFIX = "scb_";
/** Characters of a token shown in `token list` (after the `scb_` prefix of generated ones). */
const HINT_CHARS = 4;

const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest();

/** `hmac$<key id>$<hex>`: the key id tells a row stored under another secret key from a wrong token. */
const KEYED = /^hmac\$([0-9a-f]{8})\$([0-9a-f]{64})$/;
/** What versions before keyed hashing stored: the bare SHA-256 in hex. */
const LEGACY = /^[0-9a-f]{64}$/;

/** The shown part of a token: its first characters, never more than HINT_CHARS of the secret. */
export function hintOf(token: string): string {
  const prefix = token.startsWith(TOKEN_PREFIX) ? TOKEN_PREFIX : "";
  return token.slice(0, prefix.length + HINT_CHARS);
}

export class TokenError extends Error {}

export class TokenService {
  /** Last-used times are written at most once a minute per token, not on every request. */
  private readonly touched = new Map<string, number>();
  private readonly key: Buffer;
  private readonly keyId: string;
  private readonly store: TokenStore;

  /** `secretKey`: the server's 32-byte secret key; the token hashing key is derived from it. */
  constructor(db: Db, secretKey: Buffer) {
    this.store = new TokenStore({ db });
    this.key = Buffer.from(hkdfSync("sha256", secretKey, Buffer.alloc(0), "scimbridge bearer token hash", 32));
    this.keyId = createHmac("sha256", this.key).update("key id").digest("hex").slice(0, 8);
    this.upgradeStored();
  }

  private keyed(inner: Buffer): Buffer {
    return createHmac("sha256", this.key).update(inner).digest();
  }

  private stored(token: string): string {
    return `hmac$${this.keyId}$${this.keyed(sha256(token)).toString("hex")}`;
  }

  /**
   * Rows from versions before keyed hashing: their SHA-256 is keyed in place and their hint cut to
   * HINT_CHARS, in one transaction, without needing the tokens. A database busy with another
   * writer, or on a full or read-only disk, is left for the next start; verify() reads old rows
   * meanwhile.
   */
  private upgradeStored(): void {
    try {
      this.store.rekeyUnkeyed((r) =>
        LEGACY.test(r.hash) ? { hash: `hmac$${this.keyId}$${this.keyed(Buffer.from(r.hash, "hex")).toString("hex")}`, hint: hintOf(r.hint) } : undefined,
      );
    } catch (e) {
      if (!isDatabaseBusy(e) && storageFaultCode(e) === undefined) throw e;
    }
  }

  /** Names of tokens stored under another secret key: they cannot work until re-created. */
  storedUnderOtherKey(): string[] {
    return this.store
      .hashes()
      .filter((r) => KEYED.exec(r.hash)?.[1] !== this.keyId && !LEGACY.test(r.hash))
      .map((r) => r.name);
  }

  /**
   * The stored hashes under this server's key, read on every request: a revocation by the CLI
   * (another process) applies to the next one. Not cached: the whole check is 1-4% of a small
   * PATCH, cached or not (`npm run bench -- tokens`).
   */
  private hashes(): { name: string; hash: Buffer }[] {
    return this.store.hashes().flatMap((r) => {
      const keyed = KEYED.exec(r.hash);
      if (keyed) return keyed[1] === this.keyId ? [{ name: r.name, hash: Buffer.from(keyed[2]!, "hex") }] : [];
      return LEGACY.test(r.hash) ? [{ name: r.name, hash: this.keyed(Buffer.from(r.hash, "hex")) }] : [];
    });
  }

  /** Creates a token and returns it: the only time the secret is ever seen. */
  create(name: string): string {
    if (!/^[\w.@-]{1,64}$/.test(name)) throw new TokenError(`token name must be 1-64 of [A-Za-z0-9_.@-], got ${JSON.stringify(name)}`);
    if (this.store.has(name)) throw new TokenError(`a token named ${name} already exists (revoke it first)`);
    const token = TOKEN_PREFIX + randomBytes(32).toString("base64url");
    this.store.add(this.row(name, token));
    return token;
  }

  /** Stores a token chosen elsewhere (SCIM_TOKEN), replacing any token of that name. */
  put(name: string, token: string): void {
    if (token.length < 16) throw new TokenError("a token must be at least 16 characters");
    this.store.replace(this.row(name, token));
  }

  private row(name: string, token: string) {
    return { name, hash: this.stored(token), hint: hintOf(token), created: new Date().toISOString() };
  }

  list(): TokenInfo[] {
    return this.store.list();
  }

  count(): number {
    return this.list().length;
  }

  revoke(name: string): boolean {
    return this.store.remove(name);
  }

  /** The name of the client holding `token`, or undefined. */
  verify(token: string): string | undefined {
    const presented = this.keyed(sha256(token));
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
      this.store.markUsed(name, new Date(now).toISOString());
    } catch (e) {
      // Last use is informational: a database busy with another writer must not refuse a client
      // that authenticated, nor may a full or read-only disk (reads keep working); the next request records it.
      if (!isDatabaseBusy(e) && storageFaultCode(e) === undefined) throw e;
      this.touched.delete(name);
    }
  }
}
