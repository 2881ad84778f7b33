/**
 * Traffic inspector (issue 6): the last N SCIM requests and responses in memory, so an operator
 * sees exactly what a client sent. Mounted on the SCIM base path only (never /oauth/token); the
 * Authorization header is never stored, and every password (at any depth, including PATCH
 * operations whose path names a password) and token or secret field is redacted before a body is
 * kept. Bodies are capped at BODY_CAP bytes of JSON.
 */
import type { RequestHandler } from "express";

export const BODY_CAP = 64 * 1024;
export const REDACTED = "[redacted]";

export interface TrafficRecord {
  time: string;
  requestId: string | undefined;
  client: string | undefined;
  method: string;
  /** Path and query as the client sent them. */
  path: string;
  status: number;
  durationMs: number;
  userAgent: string | undefined;
  /** Redacted JSON; a body over the cap is kept as { truncated, bytes, preview }. */
  requestBody: unknown;
  responseBody: unknown;
}

export interface TrafficQuery {
  limit?: number | undefined;
  client?: string | undefined;
  status?: number | undefined;
}

/** Key names whose values are never kept: passwords, OAuth secrets and tokens. */
const SECRET_KEY = /password|secret|^(access_|refresh_|id_)?token$|^authorization$/i;

/** Redacts secrets at any depth; PATCH operations on a password path have their value redacted. */
export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value === null || typeof value !== "object") return value;
  const o = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const passwordOp = typeof o.op === "string" && typeof o.path === "string" && /password/i.test(o.path);
  for (const [k, v] of Object.entries(o)) {
    if (SECRET_KEY.test(k) || (passwordOp && k === "value")) out[k] = REDACTED;
    else out[k] = redact(v);
  }
  return out;
}

/** Redacts `"password": "..."`-like pairs in a JSON text that could not be parsed (a truncated body). */
function redactText(text: string): string {
  return text.replace(/("[^"]*(?:password|secret|token)[^"]*"\s*:\s*)("(?:[^"\\]|\\.)*"?|[^,}\]]*)/gi, `$1"${REDACTED}"`);
}

function capped(value: unknown): unknown {
  if (value === undefined) return null;
  const text = JSON.stringify(value);
  if (text === undefined || Buffer.byteLength(text) <= BODY_CAP) return value;
  return { truncated: true, bytes: Buffer.byteLength(text), preview: text.slice(0, BODY_CAP) };
}

function responseBodyOf(chunks: Buffer[], total: number, contentType: string | undefined): unknown {
  if (!total) return null;
  const text = Buffer.concat(chunks).toString("utf8");
  if (total > BODY_CAP) return { truncated: true, bytes: total, preview: redactText(text.slice(0, BODY_CAP)) };
  if (contentType && /json/i.test(contentType)) {
    try {
      return redact(JSON.parse(text));
    } catch {
      // not JSON after all: kept as text below
    }
  }
  return redactText(text);
}

export class TrafficInspector {
  private readonly ring: (TrafficRecord | undefined)[];
  private next = 0;
  private count = 0;

  constructor(readonly size: number) {
    this.ring = new Array<TrafficRecord | undefined>(size);
  }

  add(r: TrafficRecord): void {
    this.ring[this.next] = r;
    this.next = (this.next + 1) % this.size;
    this.count = Math.min(this.count + 1, this.size);
  }

  /** Newest first. */
  list(q: TrafficQuery = {}): TrafficRecord[] {
    const out: TrafficRecord[] = [];
    const limit = q.limit ?? this.size;
    for (let i = 1; i <= this.count && out.length < limit; i++) {
      const r = this.ring[(this.next - i + this.size) % this.size]!;
      if (q.client !== undefined && r.client !== q.client) continue;
      if (q.status !== undefined && r.status !== q.status) continue;
      out.push(r);
    }
    return out;
  }

  get(requestId: string): TrafficRecord | undefined {
    return this.list().find((r) => r.requestId === requestId);
  }

  /**
   * Middleware for the SCIM base path (after the request id and path normalisation). The response
   * body is captured by wrapping res.write/res.end, up to the cap; the record is taken when the
   * response finishes (or the connection closes), when req.body and req.scimClient are known.
   */
  middleware(): RequestHandler {
    return (req, res, next) => {
      const started = process.hrtime.bigint();
      const time = new Date().toISOString();
      const chunks: Buffer[] = [];
      let total = 0;
      const keep = (chunk: unknown, encoding: unknown) => {
        if (chunk === undefined || chunk === null || typeof chunk === "function") return;
        const buf = Buffer.isBuffer(chunk)
          ? chunk
          : typeof chunk === "string"
            ? Buffer.from(chunk, typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8")
            : chunk instanceof Uint8Array
              ? Buffer.from(chunk)
              : undefined;
        if (!buf) return;
        if (total < BODY_CAP + 1) chunks.push(buf.subarray(0, BODY_CAP + 1 - total));
        total += buf.length;
      };
      const write = res.write.bind(res) as (...args: unknown[]) => boolean;
      const end = res.end.bind(res) as (...args: unknown[]) => typeof res;
      res.write = ((...args: unknown[]) => {
        keep(args[0], args[1]);
        return write(...args);
      }) as typeof res.write;
      res.end = ((...args: unknown[]) => {
        keep(args[0], args[1]);
        return end(...args);
      }) as typeof res.end;
      let done = false;
      const record = () => {
        if (done) return;
        done = true;
        try {
          this.add({
            time,
            requestId: req.id,
            client: req.scimClient,
            method: req.method,
            path: req.originalUrl,
            status: res.statusCode,
            durationMs: Math.round((Number(process.hrtime.bigint() - started) / 1e6) * 10) / 10,
            userAgent: req.headers["user-agent"],
            requestBody: capped(redact(req.body)),
            responseBody: responseBodyOf(chunks, total, res.getHeader("content-type") as string | undefined),
          });
        } catch {
          // The inspector is a diagnostic aid: it must never break a response.
        }
      };
      res.once("finish", record);
      res.once("close", record);
      next();
    };
  }
}
