/**
 * A failure budget per caller for every credential check (SCIM bearer and Basic, /oauth/token,
 * the admin API): after `maxFailures` failed attempts within `windowSeconds`, that caller gets
 * 429 with Retry-After (RFC 6585 §4) until the oldest failure leaves the window. The budget is
 * spent only by failures and kept per caller (address, plus the client id where one is claimed),
 * so a caller guessing wrong never makes another caller's correct credential fail: no attacker can
 * lock a real identity provider out. Behind a reverse proxy, `server.trustProxy` must be on, or
 * every caller shares the proxy's address.
 */
import type { Request } from "express";
import type { Logger } from "../logger.js";

export interface ThrottleSettings {
  maxFailures: number;
  windowSeconds: number;
}

/** Callers remembered at most; the oldest is forgotten first, so a flood of addresses cannot exhaust memory. */
const MAX_CALLERS = 10_000;

export interface Caller {
  /** Where the attempt came from (req.ip: the socket, or X-Forwarded-For with trustProxy). */
  address: string;
  /** The client id, Basic user name or admin token name the caller claimed, when it claimed one. */
  clientId?: string | undefined;
}

export const callerOf = (req: Request, clientId?: string): Caller => ({ address: req.ip ?? req.socket.remoteAddress ?? "unknown", clientId });

export class FailureThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly settings: ThrottleSettings,
    private readonly now: () => Date = () => new Date(),
    private readonly logger?: Logger,
  ) {}

  private key(c: Caller): string {
    return c.clientId === undefined ? c.address : `${c.address}\n${c.clientId}`;
  }

  private recent(key: string): number[] {
    const since = this.now().getTime() - this.settings.windowSeconds * 1000;
    const list = (this.failures.get(key) ?? []).filter((t) => t > since);
    if (list.length) this.failures.set(key, list);
    else this.failures.delete(key);
    return list;
  }

  /** Seconds until `caller` may try again, or 0 while it has budget left. */
  retryAfter(caller: Caller): number {
    const list = this.recent(this.key(caller));
    if (list.length < this.settings.maxFailures) return 0;
    const freed = list[list.length - this.settings.maxFailures]! + this.settings.windowSeconds * 1000;
    return Math.max(1, Math.ceil((freed - this.now().getTime()) / 1000));
  }

  /** Records a failed attempt and logs it: who, from where, why; never the credential. */
  fail(caller: Caller, endpoint: string, reason: string): void {
    const key = this.key(caller);
    const list = this.recent(key);
    list.push(this.now().getTime());
    this.failures.delete(key); // re-inserted last: the Map's order is then least recently failed first
    this.failures.set(key, list.slice(-this.settings.maxFailures));
    if (this.failures.size > MAX_CALLERS) this.failures.delete(this.failures.keys().next().value!);
    const fields = { address: caller.address, clientId: caller.clientId, endpoint, reason };
    if (list.length === this.settings.maxFailures) {
      this.logger?.warn({ ...fields, failures: list.length, windowSeconds: this.settings.windowSeconds }, "authentication failed; caller throttled");
    } else {
      this.logger?.warn(fields, "authentication failed");
    }
  }
}
