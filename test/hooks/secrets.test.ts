import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { SecretError, openSecret, parseKey, sealSecret } from "../../hooks/delivery/secrets.js";

const key = randomBytes(32);

describe("sealSecret / openSecret", () => {
  it.each(["Secr3t!", "", "pässwörd 😀", "x".repeat(10_000)])("round-trips %#", (plain) => {
    const sealed = sealSecret(key, plain);
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]*$/);
    expect(sealed).not.toContain(plain || "\u0000");
    expect(openSecret(key, sealed)).toBe(plain);
  });

  it("uses a fresh IV each time", () => {
    expect(sealSecret(key, "same")).not.toBe(sealSecret(key, "same"));
  });

  it("binds the associated data", () => {
    const sealed = sealSecret(key, "pw", "user-1");
    expect(openSecret(key, sealed, "user-1")).toBe("pw");
    expect(() => openSecret(key, sealed, "user-2")).toThrow(SecretError);
    expect(() => openSecret(key, sealed)).toThrow(SecretError);
  });

  const flip = (b64: string) => {
    const buf = Buffer.from(b64, "base64");
    buf[0] = (buf[0] ?? 0) ^ 1;
    return buf.toString("base64");
  };

  it.each([
    ["ciphertext", 3],
    ["tag", 2],
    ["iv", 1],
  ])("detects a tampered %s", (_name, index) => {
    const parts = sealSecret(key, "Secr3t!").split(".");
    parts[index] = flip(parts[index] ?? "");
    expect(() => openSecret(key, parts.join("."))).toThrow(/failed authentication|bad IV/);
  });

  it("refuses another key", () => {
    expect(() => openSecret(randomBytes(32), sealSecret(key, "pw"))).toThrow(SecretError);
  });

  it.each([
    ["not sealed", "plaintext"],
    ["unknown version", "v2.a.b.c"],
    ["short tag", `v1.${Buffer.alloc(12).toString("base64")}.${Buffer.alloc(4).toString("base64")}.AAAA`],
  ])("rejects %s", (_name, sealed) => {
    expect(() => openSecret(key, sealed)).toThrow(SecretError);
  });

  it("rejects a key of the wrong size", () => {
    expect(() => sealSecret(randomBytes(16), "pw")).toThrow(/32 bytes/);
  });
});

describe("parseKey", () => {
  const raw = randomBytes(32);
  it.each([
    ["hex", raw.toString("hex")],
    ["upper-case hex", raw.toString("hex").toUpperCase()],
    ["base64", raw.toString("base64")],
    ["base64url without padding", raw.toString("base64url")],
    ["surrounding whitespace", `  ${raw.toString("base64")}\n`],
  ])("accepts %s", (_name, text) => {
    expect(parseKey(text).equals(raw)).toBe(true);
  });

  it.each([
    ["empty", ""],
    ["16 bytes base64", randomBytes(16).toString("base64")],
    ["48 bytes base64", randomBytes(48).toString("base64")],
    ["63 hex digits", raw.toString("hex").slice(1)],
    ["a passphrase", "correct horse battery staple"],
  ])("rejects %s with a hint and without echoing it", (_name, text) => {
    let message = "";
    try {
      parseKey(text);
    } catch (e) {
      expect(e).toBeInstanceOf(SecretError);
      message = (e as Error).message;
    }
    expect(message).toMatch(/32 bytes.*openssl rand -base64 32/);
    if (text) expect(message).not.toContain(text);
  });
});
