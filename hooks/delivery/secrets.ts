/**
 * Sealing SCIM passwords while they wait for delivery (design.md decision 9: never at rest in
 * clear). AES-256-GCM with a random 96-bit IV per message (NIST SP 800-38D §8.2 recommends 96-bit
 * IVs; random IVs are safe far beyond the number of passwords we will ever hold under one key).
 * Format: `v1.<base64 iv>.<base64 tag>.<base64 ciphertext>`, versioned so the scheme can change
 * without guessing what an old row holds.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

const VERSION = "v1";
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

export class SecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SecretError";
  }
}

function checkKey(key: Buffer): void {
  if (key.length !== KEY_BYTES) throw new SecretError(`the secret key must be ${KEY_BYTES} bytes, got ${key.length}`);
}

/**
 * Encrypts `plaintext`. `aad` (e.g. the resource id) is authenticated but not stored: a sealed
 * value copied onto another row then fails to open instead of delivering someone else's password.
 */
export function sealSecret(key: Buffer, plaintext: string, aad?: string): string {
  checkKey(key);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
  if (aad !== undefined) cipher.setAAD(Buffer.from(aad, "utf8"));
  const ct = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  const tag = cipher.getAuthTag();
  return [VERSION, iv.toString("base64"), tag.toString("base64"), ct.toString("base64")].join(".");
}

/** Decrypts a value from sealSecret; throws SecretError when it is malformed, tampered with or under another key. */
export function openSecret(key: Buffer, sealed: string, aad?: string): string {
  checkKey(key);
  const parts = sealed.split(".");
  if (parts.length !== 4 || parts[0] !== VERSION) {
    throw new SecretError(`not a sealed secret (expected ${VERSION}.<iv>.<tag>.<ciphertext>)`);
  }
  const [, ivB64 = "", tagB64 = "", ctB64 = ""] = parts;
  const iv = Buffer.from(ivB64, "base64");
  const tag = Buffer.from(tagB64, "base64");
  const ct = Buffer.from(ctB64, "base64");
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new SecretError("sealed secret has a bad IV or tag length");
  const decipher = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
  decipher.setAuthTag(tag);
  if (aad !== undefined) decipher.setAAD(Buffer.from(aad, "utf8"));
  try {
    return Buffer.concat([decipher.update(ct), decipher.final()]).toString("utf8");
  } catch {
    // GCM gives one answer for every failure; the message must not hint at the plaintext.
    throw new SecretError("sealed secret failed authentication (wrong key, or altered)");
  }
}

/**
 * Parses a 32-byte key given as 64 hex digits or base64 (standard or URL-safe, padding optional).
 * The error never echoes the input: it is a secret.
 */
export function parseKey(input: string): Buffer {
  const text = input.trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, "hex");
  if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(text)) {
    const key = Buffer.from(text.replace(/-/g, "+").replace(/_/g, "/"), "base64");
    if (key.length === KEY_BYTES) return key;
  }
  throw new SecretError(
    `the secret key must be ${KEY_BYTES} bytes as 64 hex digits or 44 base64 characters ` +
      `(got ${text.length} characters); generate one with: openssl rand -base64 32`,
  );
}
