/**
 * JSON request bodies. The common case — identity encoding, UTF-8 (or no charset, RFC 8259 §8.1),
 * a Content-Length within the limit — is read straight off the request stream; everything else
 * goes through express.json (body-parser), which owns the rarer paths: gzip and other content
 * encodings, other charsets (415), chunked bodies, bodies over the limit (413). Both give the
 * same typed errors to the error boundary (`entity.parse.failed` is a SCIM 400 invalidSyntax).
 *
 * Why not body-parser for everything: its content-type parsing, charset lookup, raw-body stream
 * wrapper and iconv decode were about a tenth of the work before a SCIM handler runs (measured on
 * a one-member group PATCH), and that time sits before the write's commit and its LDAP operation.
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

/** Content-Type's charset is absent or UTF-8 (case-insensitive, quotes allowed, RFC 9110 §8.3.2). */
function utf8OrNone(contentType: string | undefined): boolean {
  if (contentType === undefined) return true;
  const m = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(contentType);
  return m === null || m[1]!.toLowerCase() === "utf-8" || m[1]!.toLowerCase() === "utf8";
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
  const fallback = express.json({
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
  return (req, res, next) => {
    const h = req.headers;
    const declared = h["content-length"] === undefined ? NaN : Number(h["content-length"]);
    const direct =
      // A body already read (a nested app) is left alone, as body-parser does.
      req.body === undefined &&
      !req.readableEnded &&
      h["transfer-encoding"] === undefined &&
      Number.isSafeInteger(declared) &&
      declared > 0 &&
      declared <= o.limit &&
      (h["content-encoding"] === undefined || h["content-encoding"].toLowerCase() === "identity") &&
      utf8OrNone(h["content-type"]) &&
      o.isJson(req);
    if (!direct) return fallback(req, res, next);

    const chunks: Buffer[] = [];
    let received = 0;
    const done = (err?: Error) => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      next(err);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      chunks.push(chunk);
    };
    const onEnd = () => {
      // Node's parser ends the stream after exactly Content-Length bytes; a mismatch is a broken request.
      if (received !== declared) return done(bodyError(400, "request.size.invalid", "request size did not match content length"));
      const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received);
      if (!isUtf8(bytes)) return done(invalidUtf8());
      if (nestsDeeperThan(bytes, maxDepth)) return done(tooDeep(maxDepth));
      let text = bytes.toString("utf8");
      // iconv-lite (body-parser's decoder) drops a UTF-8 byte order mark; so do we.
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      try {
        req.body = JSON.parse(text) as unknown;
      } catch (e) {
        return done(bodyError(400, "entity.parse.failed", e instanceof Error ? e.message : String(e)));
      }
      done();
    };
    const onError = (e: Error) => done(bodyError(400, "request.aborted", e.message));
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
  };
}
