/**
 * JSON request bodies, read by express.json (body-parser): identity, gzip, deflate and br bodies,
 * UTF-8 (or no charset, RFC 8259 §8.1; another charset is 415), within the size limit (413). Two
 * checks of ours run on the raw bytes before they are decoded: invalid UTF-8 is a 400 (never
 * decoded with U+FFFD in its place), and so is nesting deeper than scim.limits.jsonDepth. Errors
 * are typed as body-parser types them, for the error boundary (`entity.parse.failed` is a SCIM 400
 * invalidSyntax). A reader of our own for the common case was measured against this one with
 * bench/group-members.ts and moved no figure.
 */
import express, { type RequestHandler } from "express";
import { isUtf8 } from "node:buffer";
import type { IncomingMessage } from "node:http";

interface Options {
  limit: number;
  /** scim.limits.jsonDepth: deepest nesting of arrays and objects accepted. */
  maxDepth?: number | undefined;
  /** Whether the request's body is JSON (by Content-Type). */
  isJson: (req: IncomingMessage) => boolean;
}

/** A typed error as body-parser makes them (status, type), for the error boundary. */
function bodyError(status: number, type: string, message: string): Error {
  return Object.assign(new Error(message), { status, statusCode: status, type, expose: true });
}


/**
 * JSON text is UTF-8 (RFC 8259 §8.1), and a byte sequence that is not UTF-8 (RFC 3629 §3) is a
 * malformed body: 400 invalidSyntax, never decoded with U+FFFD in its place, stored and written
 * to a directory as if the client had sent that character.
 */
export const INVALID_UTF8 = "encoding.invalid-utf8";
const invalidUtf8 = () => bodyError(400, INVALID_UTF8, "the request body is not valid UTF-8 (RFC 8259 §8.1, RFC 3629)");

/** Default of scim.limits.jsonDepth: SCIM resources nest three levels; 64 leaves room for extensions. */
export const MAX_JSON_DEPTH = 64;
export const TOO_DEEP = "entity.too-deep";

/**
 * Whether UTF-8 JSON bytes nest arrays/objects deeper than `max`, by one scan outside strings
 * (RFC 8259 §9 lets a parser limit nesting). Every consumer of a body (coercion, PATCH's value
 * comparison, the store's JSON) recurses over it: a 1 MiB body of `[` would overflow the stack.
 */
export function nestsDeeperThan(buf: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!;
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
const tooDeep = (max: number) => bodyError(400, TOO_DEEP, `the request body nests arrays or objects deeper than ${max} levels (scim.limits.jsonDepth)`);

export function jsonBody(o: Options): RequestHandler {
  const maxDepth = o.maxDepth ?? MAX_JSON_DEPTH;
  const parse = express.json({
    type: o.isJson,
    limit: o.limit,
    strict: false,
    // Runs on the decompressed bytes before decoding; other charsets (415) never get here as UTF-8.
    verify: (_req, _res, buf, encoding) => {
      if (!/^utf-?8$/i.test(encoding)) return;
      if (!isUtf8(buf)) throw invalidUtf8();
      if (nestsDeeperThan(buf, maxDepth)) throw tooDeep(maxDepth);
    },
  });
  return parse;
}
