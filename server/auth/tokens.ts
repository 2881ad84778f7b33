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
import { storageFaultCode } from "../../db/storage-faults.js";
import type { Store } from "../../db/store.js";
import type { TokenInfo } from "../../db/tokens.js";

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
  /** The upgrade of older rows, begun at construction: every method waits for it first. */
  private readonly upgraded: Promise<void>;

  /** `secretKey`: the server's 32-byte secret key; the token hashing key is derived from it. */
  constructor(
    private readonly store: Pick<Store, "tokens" | "transaction">,
    secretKey: Buffer,
  ) {
    this.key = Buffer.from(hkdfSync("sha256", secretKey, Buffer.alloc(0), "scimbridge bearer token hash", 32));
    this.keyId = createHmac("sha256", this.key).update("key id").digest("hex").slice(0, 8);
    this.upgraded = this.upgradeStored();
  }

  /** The store's tokens (the open transaction's inside one). */
  private get rows() {
    return this.store.tokens;
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
  private async upgradeStored(): Promise<void> {
    try {
      await this.rows.rekeyUnkeyed((r) =>
        LEGACY.test(r.hash) ? { hash: `hmac$${this.keyId}$${this.keyed(Buffer.from(r.hash, "hex")).toString("hex")}`, hint: hintOf(r.hint) } : undefined,
      );
    } catch (e) {
      if (!isDatabaseBusy(e) && storageFaultCode(e) === undefined) throw e;
    }
  }

  /** Names of tokens stored under another secret key: they cannot work until re-created. */
  async storedUnderOtherKey(): Promise<string[]> {
    await this.upgraded;
    return (await this.rows.hashes())
      .filter((r) => KEYED.exec(r.hash)?.[1] !== this.keyId && !LEGACY.test(r.hash))
      .map((r) => r.name);
  }

  /**
   * The stored hashes under this server's key, read on every request: a revocation by the CLI
   * (another process) applies to the next one. Not cached: the whole check is 1-4% of a small
   * PATCH, cached or not (`npm run bench -- tokens`).
   */
  private async hashes(): Promise<{ name: string; hash: Buffer }[]> {
    return (await this.rows.hashes()).flatMap((r) => {
      const keyed = KEYED.exec(r.hash);
      if (keyed) return keyed[1] === this.keyId ? [{ name: r.name, hash: Buffer.from(keyed[2]!, "hex") }] : [];
      return LEGACY.test(r.hash) ? [{ name: r.name, hash: this.keyed(Buffer.from(r.hash, "hex")) }] : [];
    });
  }

  /** Creates a token and returns it: the only time the secret is ever seen. */
  async create(name: string): Promise<string> {
    if (!/^[\w.@-]{1,64}$/.test(name)) throw new TokenError(`token name must be 1-64 of [A-Za-z0-9_.@-], got ${JSON.stringify(name)}`);
    await this.upgraded;
    const token = TOKEN_PREFIX + randomBytes(32).toString("base64url");
    await this.store.transaction(async ({ tokens }) => {
      if (await tokens.has(name)) throw new TokenError(`a token named ${name} already exists (revoke it first)`);
      await tokens.add(this.row(name, token));
    });
    return token;
  }

  /** Stores a token chosen elsewhere (SCIM_TOKEN), replacing any token of that name. */
  async put(name: string, token: string): Promise<void> {
    if (token.length < 16) throw new TokenError("a token must be at least 16 characters");
    await this.upgraded;
    await this.rows.replace(this.row(name, token));
  }

  private row(name: string, token: string) {
    return { name, hash: this.stored(token), hint: hintOf(token), created: new Date().toISOString() };
  }

  async list(): Promise<TokenInfo[]> {
    await this.upgraded;
    return this.rows.list();
  }

  async count(): Promise<number> {
    return (await this.list()).length;
  }

  async revoke(name: string): Promise<boolean> {
    await this.upgraded;
    return this.store.transaction(({ tokens }) => tokens.remove(name));
  }

  /** The name of the client holding `token`, or undefined. */
  async verify(token: string): Promise<string | undefined> {
    await this.upgraded;
    const presented = this.keyed(sha256(token));
    let match: string | undefined;
    // Every stored hash is compared (in constant time), so timing says nothing about which matched.
    for (const row of await this.hashes()) {
      if (row.hash.length === presented.length && timingSafeEqual(row.hash, presented) && match === undefined) match = row.name;
    }
    if (match !== undefined) await this.markUsed(match);
    return match;
  }

  private async markUsed(name: string): Promise<void> {
    const now = Date.now();
    if (now - (this.touched.get(name) ?? 0) < 60_000) return;
    this.touched.set(name, now);
    try {
      await this.store.transaction(({ tokens }) => tokens.markUsed(name, new Date(now).toISOString()));
    } catch (e) {
      // Last use is informational: a database busy with another writer must not refuse a client
      // that authenticated, nor may a full or read-only disk (reads keep working); the next request records it.
      if (!isDatabaseBusy(e) && storageFaultCode(e) === undefined) throw e;
      this.touched.delete(name);
    }
  }
}
