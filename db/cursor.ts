/**
 * List cursors (RFC 9865): a page boundary sealed for the client. A cursor carries the row it
 * continues from (resource type, sort key, seq: a keyset position, never an offset), the direction,
 * a digest of the query it was issued for, the page size and an expiry, and is MACed with
 * HMAC-SHA-256 under a key derived from the server's secret key: opaque to the client, and a
 * cursor altered, forged or issued for another query is detected (RFC 9865 §5.2). The text is
 * base64url, characters of RFC 3986 §2.3's unreserved set, as RFC 9865 §2 requires. Pure.
 */
import { createHash, createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import type { ResourceKind } from "../schemas/registry.js";
import type { Boundary, SortKey } from "./resources.js";

/** Where a cursor continues from: a row of a resource type, or the start of the list. */
export interface CursorPosition extends Boundary {
  kind: ResourceKind;
}

export interface CursorState {
  /** next: the rows after `at`; previous: the rows before it. */
  direction: "next" | "previous";
  /** Undefined: from the start of the list (a `next` cursor issued for a page that had none before it). */
  at?: CursorPosition | undefined;
  /** Digest of the query (queryDigest): a cursor only continues the query it was issued for. */
  query: string;
  /** The page size it was issued for (RFC 9865 §2.1 invalidCount: the count must stay the same). */
  count: number;
  /** Unix time (seconds) after which it has expired (RFC 9865 §2.1 expiredCursor). */
  expires: number;
}

export type OpenedCursor = { ok: true; state: CursorState } | { ok: false; reason: "invalid" | "expired" };

const KINDS: Record<string, ResourceKind> = { U: "User", G: "Group" };
const MAC_BYTES = 16;

/** Digest of what a cursor is bound to: endpoint, filter, sort attribute and order. */
export function queryDigest(parts: (string | boolean | undefined)[]): string {
  return createHash("sha256").update(JSON.stringify(parts.map((p) => p ?? null))).digest("base64url").slice(0, 16);
}

const isSortKey = (v: unknown): v is SortKey => v === null || typeof v === "string" || (typeof v === "number" && Number.isFinite(v));

export class CursorCodec {
  private readonly key: Buffer;

  /** `secretKey`: the server's secret key; the cursor key is derived from it (RFC 5869 HKDF). */
  constructor(secretKey: Buffer) {
    this.key = Buffer.from(hkdfSync("sha256", secretKey, Buffer.alloc(0), "scimbridge list cursor", 32));
  }

  seal(s: CursorState): string {
    const at = s.at === undefined ? null : [s.at.kind === "User" ? "U" : "G", s.at.key, s.at.seq];
    const body = Buffer.from(JSON.stringify([s.direction === "next" ? "n" : "p", at, s.query, s.count, s.expires])).toString("base64url");
    return `${body}.${this.mac(body)}`;
  }

  /** The cursor's state when it is one this server issued, unaltered and not yet expired. */
  open(token: string, nowSeconds: number): OpenedCursor {
    const dot = token.indexOf(".");
    if (dot < 0) return { ok: false, reason: "invalid" };
    const body = token.slice(0, dot);
    const mac = Buffer.from(token.slice(dot + 1), "base64url");
    const expected = Buffer.from(this.mac(body), "base64url");
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return { ok: false, reason: "invalid" };
    const state = decode(body);
    if (!state) return { ok: false, reason: "invalid" };
    if (nowSeconds > state.expires) return { ok: false, reason: "expired" };
    return { ok: true, state };
  }

  private mac(body: string): string {
    return createHmac("sha256", this.key).update(body).digest().subarray(0, MAC_BYTES).toString("base64url");
  }
}

/** The MAC already vouched for the body; this only guards against a body of an older shape. */
function decode(body: string): CursorState | undefined {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
  if (!Array.isArray(v) || v.length !== 5) return undefined;
  const [d, at, query, count, expires] = v as unknown[];
  if ((d !== "n" && d !== "p") || typeof query !== "string" || !Number.isSafeInteger(count) || !Number.isSafeInteger(expires)) return undefined;
  let position: CursorPosition | undefined;
  if (at !== null) {
    if (!Array.isArray(at) || at.length !== 3) return undefined;
    const [k, key, seq] = at as unknown[];
    const kind = typeof k === "string" ? KINDS[k] : undefined;
    if (!kind || !isSortKey(key) || !Number.isSafeInteger(seq)) return undefined;
    position = { kind, key, seq: seq as number };
  }
  return { direction: d === "n" ? "next" : "previous", at: position, query, count: count as number, expires: expires as number };
}
