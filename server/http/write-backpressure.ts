/**
 * Backpressure on SCIM writes: while the delivery backlog is over its bound, a write waits for the
 * worker before it is taken, and after `maxWaitMs` is refused with 503 and Retry-After (RFC 9110
 * §15.6.4; RFC 7644 §3.12 lets a service provider answer 503). Under sustained intake the
 * process's one event loop is shared by the SCIM side and delivery: without a bound, intake takes
 * the CPU and delivery lag grows with the backlog (measured with bench/provisioning.ts, sustained
 * phase: lag p99 grew past 20 s within 30 s of 16 clients). Reads are never held back.
 */
import type { RequestHandler } from "express";
import { ScimError } from "../../schemas/errors.js";

export interface BackpressureOptions {
  /** Changes waiting for delivery, counted up to `cap`. */
  backlog(cap: number): Promise<number>;
  /** Waiting changes above which writes wait; 0: never. */
  max: number;
  maxWaitMs: number;
}

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);
/** How often a held write looks at the backlog again. */
const RECHECK_MS = 20;
/** What a refused write's Retry-After says, in seconds. */
const RETRY_AFTER_S = 5;

export function writeBackpressure(o: BackpressureOptions): RequestHandler {
  return async (req, res, next) => {
    // /.search is a read sent with POST (RFC 7644 §3.4.3).
    if (o.max === 0 || !WRITES.has(req.method) || req.path.endsWith("/.search") || (await o.backlog(o.max + 1)) <= o.max) return next();
    const until = performance.now() + o.maxWaitMs;
    while (performance.now() < until) {
      await new Promise((r) => setTimeout(r, RECHECK_MS));
      if (res.closed) return; // the client gave up
      if ((await o.backlog(o.max + 1)) <= o.max) return next();
    }
    res.setHeader("Retry-After", String(RETRY_AFTER_S));
    next(new ScimError(503, undefined, `more than ${o.max} changes are waiting for delivery to the directory; retry later`));
  };
}
