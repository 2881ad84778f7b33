/**
 * The external issuer's signing keys (RFC 7517 JWK Set), fetched from `auth.jwt.jwksUrl` and kept
 * through outages. jose's remote set forgets its keys once they are older than its cache age, so
 * a JWKS endpoint down for ten minutes refused every valid token; here the last good set stays in
 * use for `graceSeconds` while refetches back off. Fetches are single-flight and rate-limited: a
 * token with an unknown `kid` (RFC 7515 §4.1.4) may trigger at most one fetch per cooldown, so
 * junk tokens cannot make us hammer the issuer (RFC 8725 §3.10 warns against letting tokens drive
 * key fetches), and a failing endpoint is logged once per interval, not once per request.
 */
import { createLocalJWKSet, type JSONWebKeySet, type JWSHeaderParameters, type FlattenedJWSInput } from "jose";
import type { Logger } from "../logger.js";

export interface JwksSettings {
  /** Keys younger than this are used without refetching. */
  cacheSeconds: number;
  /** Keys from the last good fetch stay usable this long past cacheSeconds while fetches fail. */
  graceSeconds: number;
  /** Least time between two fetches; failures double it up to maxBackoffSeconds. */
  cooldownSeconds: number;
  maxBackoffSeconds: number;
  timeoutMs: number;
}

export type JwksStatus = "not_fetched" | "ok" | "stale" | "unavailable";

export interface JwksState {
  url: string;
  /** ok: fresh keys; stale: the last good keys, in their grace period; unavailable: no usable keys. */
  state: JwksStatus;
  keys: number;
  lastSuccess: string | null;
  lastError: string | null;
  failures: number;
  nextFetch: string | null;
}

/** Failures are logged at most once per this interval (with how many were not logged). */
const LOG_INTERVAL_MS = 60_000;

/** No usable key: none fetched yet, or the last good set is older than its grace period. */
export class JwksUnavailableError extends Error {
  readonly code = "ERR_JWKS_UNAVAILABLE";
}

export class JwksCache {
  private local: ReturnType<typeof createLocalJWKSet> | undefined;
  private keyCount = 0;
  private fetchedAt: number | undefined;
  private lastAttempt: number | undefined;
  private failures = 0;
  private lastError: string | undefined;
  private inflight: Promise<boolean> | undefined;
  private lastLogged = -Infinity;
  private unlogged = 0;

  constructor(
    private readonly url: string,
    private readonly settings: JwksSettings,
    private readonly now: () => Date,
    private readonly logger?: Logger,
  ) {}

  private ms(): number {
    return this.now().getTime();
  }

  private nextFetchAt(): number {
    if (this.lastAttempt === undefined) return -Infinity;
    const backoff = this.failures ? Math.min(this.settings.cooldownSeconds * 2 ** (this.failures - 1), this.settings.maxBackoffSeconds) : this.settings.cooldownSeconds;
    return this.lastAttempt + backoff * 1000;
  }

  private status(): JwksStatus {
    if (this.fetchedAt === undefined) return this.lastAttempt === undefined ? "not_fetched" : "unavailable";
    const age = this.ms() - this.fetchedAt;
    if (age <= this.settings.cacheSeconds * 1000) return "ok";
    return age <= (this.settings.cacheSeconds + this.settings.graceSeconds) * 1000 ? "stale" : "unavailable";
  }

  state(): JwksState {
    const next = this.nextFetchAt();
    return {
      url: this.url,
      state: this.status(),
      keys: this.keyCount,
      lastSuccess: this.fetchedAt === undefined ? null : new Date(this.fetchedAt).toISOString(),
      lastError: this.lastError ?? null,
      failures: this.failures,
      nextFetch: Number.isFinite(next) ? new Date(next).toISOString() : null,
    };
  }

  /** Fetches the set unless one is running (joins it) or the cooldown or backoff forbids; true when new keys arrived. */
  refresh(): Promise<boolean> {
    if (this.inflight) return this.inflight;
    if (this.ms() < this.nextFetchAt()) return Promise.resolve(false);
    this.lastAttempt = this.ms();
    this.inflight = this.fetchSet().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  private async fetchSet(): Promise<boolean> {
    try {
      const res = await fetch(this.url, { signal: AbortSignal.timeout(this.settings.timeoutMs), headers: { accept: "application/json" }, redirect: "error" });
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
      const set = (await res.json()) as JSONWebKeySet;
      if (!Array.isArray(set?.keys)) throw new Error("the response is not a JWK Set (no keys array)");
      this.local = createLocalJWKSet(set);
      this.keyCount = set.keys.length;
      this.fetchedAt = this.ms();
      if (this.failures) this.logger?.info({ jwksUrl: this.url, failures: this.failures }, "JWKS for auth.jwt fetched again");
      this.failures = 0;
      this.lastError = undefined;
      return true;
    } catch (e) {
      this.failures++;
      this.lastError = (e as Error).message;
      this.logFailure();
      return false;
    }
  }

  private logFailure(): void {
    const now = this.ms();
    if (now - this.lastLogged < LOG_INTERVAL_MS) {
      this.unlogged++;
      return;
    }
    const s = this.state();
    this.logger?.warn(
      { jwksUrl: this.url, err: this.lastError, failures: this.failures, notLogged: this.unlogged, keys: s.state, nextFetch: s.nextFetch },
      "cannot fetch the JWKS for auth.jwt",
    );
    this.lastLogged = now;
    this.unlogged = 0;
  }

  /** A jose key resolver (for jwtVerify): fresh keys when due, the last good ones while fetching fails. */
  readonly getKey = async (header: JWSHeaderParameters, token: FlattenedJWSInput) => {
    if (this.status() !== "ok") await this.refresh();
    const local = this.local;
    if (local === undefined || this.status() === "unavailable") {
      throw new JwksUnavailableError(`no usable keys from ${this.url}${this.lastError ? `: ${this.lastError}` : ""}`);
    }
    try {
      return await local(header, token);
    } catch (e) {
      // A new kid may be a rotation the cached set predates: refetch (rate-limited) and retry once.
      if ((e as { code?: string }).code !== "ERR_JWKS_NO_MATCHING_KEY" || !(await this.refresh())) throw e;
      return this.local!(header, token);
    }
  };
}
