/**
 * One configured LDAP target: a long-lived bound ldapts Client, failover across URLs, reconnect
 * with back-off, and a cap on operations in flight.
 *
 * ldapts 8.2 facts this is built on (ldap-targets.md §4.2, read from ldapts src/Client.ts):
 * one Client is one socket with pipelined operations; after the server closes the socket the
 * Client reconnects lazily *unauthenticated* unless `autoRebind`; autoRebind is not applied after
 * startTLS(); a per-operation timeout destroys the socket; a failed bind leaves the socket open.
 */
import { readFile } from "node:fs/promises";
import { connect as netConnect, isIP, Socket } from "node:net";
import type { ConnectionOptions } from "node:tls";
import { Client } from "ldapts";
import { classifyLdapError, isConnectionLost, LdapConnectionError } from "./errors.js";

export interface LdapTargetOptions {
  name: string;
  /** Tried in order on every (re)connect: the first reachable one wins. */
  urls: string[];
  bindDn: string;
  bindPassword: string;
  tls?: {
    /** PEM CA bundle; read once, at the first connect. Default: Node's trusted roots. */
    caFile?: string;
    /** Verify the server certificate. Default true; false only for throwaway tests. */
    rejectUnauthorized?: boolean;
    /** Upgrade ldap:// URLs with StartTLS (RFC 4511 §4.14) before binding. */
    startTls?: boolean;
  };
  /** Per-operation timeout. Default 10 000 ms. */
  timeoutMs?: number;
  /** TCP (and TLS) connect timeout per URL. Default 5 000 ms. */
  connectTimeoutMs?: number;
  /** Operations in flight at once. Default 8. */
  concurrency?: number;
  /** Reconnect back-off after every URL failed: doubles from initialMs to maxMs, with jitter. */
  backoff?: { initialMs?: number; maxMs?: number };
}

export interface LdapTargetHealth {
  reachable: boolean;
  /** The URL of the current (or last) connection. */
  url?: string;
  lastError?: string;
  /** ISO time `reachable` last changed (or the target was created). */
  since: string;
  /** While backing off: ISO time of the next connect attempt. */
  nextAttemptAt?: string;
}

/** A Client, the URL it is bound to, and whether we saw its socket close (StartTLS only). */
interface Bound {
  client: Client;
  url: string;
  lost: { value: boolean };
}

export class LdapTarget {
  readonly name: string;
  private readonly opts: LdapTargetOptions;
  private readonly timeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly slots: Semaphore;
  private current?: Bound;
  private connecting?: Promise<Bound>;
  private ca?: Promise<Buffer | undefined>;
  private failures = 0;
  private retryAt = 0;
  private closed = false;
  private state: LdapTargetHealth = { reachable: false, since: new Date().toISOString() };

  constructor(opts: LdapTargetOptions) {
    this.name = opts.name;
    this.opts = { ...opts, urls: [...opts.urls] };
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 5_000;
    this.slots = new Semaphore(Math.max(1, opts.concurrency ?? 8));
  }

  /**
   * Runs `fn` with a bound Client once a concurrency slot is free. Connection failures reject with
   * LdapConnectionError; errors from `fn` are rethrown as ldapts raised them (classify them with
   * classifyLdapError). Never retries `fn`: after a timeout the write may have happened, so the
   * caller re-reads and decides (ldap-targets.md §4.2, §5.5).
   */
  async run<T>(fn: (c: Client) => Promise<T>): Promise<T> {
    await this.slots.acquire();
    try {
      const bound = await this.bound();
      try {
        return await fn(bound.client);
      } catch (e) {
        this.afterFailure(bound, e);
        throw e;
      }
    } finally {
      this.slots.release();
    }
  }

  health(): LdapTargetHealth {
    const h = { ...this.state };
    if (this.retryAt > Date.now()) h.nextAttemptAt = new Date(this.retryAt).toISOString();
    return h;
  }

  /** Connects if needed and reads the root DSE (RFC 4512 §5.1); resolves with the health. */
  async check(): Promise<LdapTargetHealth> {
    await this.run((c) => c.search("", { scope: "base", attributes: ["1.1"] })).catch(() => undefined);
    return this.health();
  }

  /** Unbinds and refuses further work. */
  async close(): Promise<void> {
    this.closed = true;
    const pending = this.connecting;
    this.connecting = undefined;
    const b = this.current ?? (await pending?.catch(() => undefined));
    this.current = undefined;
    if (b) await b.client.unbind().catch(() => undefined);
  }

  // --- connection management ----------------------------------------------------------------

  private async bound(): Promise<Bound> {
    if (this.closed) throw new LdapConnectionError(`LDAP target ${this.name} is closed`, { transient: false });
    const cur = this.current;
    // isBound turns false when ldapts saw the socket close (server restart, idle cut-off): make a
    // fresh connection through the failover list instead of letting ldapts reconnect to the same URL.
    if (cur && cur.client.isBound && !cur.lost.value) return cur;
    if (cur) this.drop(cur);
    if (this.connecting) return this.connecting;
    const wait = this.retryAt - Date.now();
    if (wait > 0) {
      throw new LdapConnectionError(
        `LDAP target ${this.name} unreachable; next attempt in ${wait} ms (last error: ${this.state.lastError ?? "unknown"})`,
        { transient: true },
      );
    }
    const p = this.connect();
    this.connecting = p;
    try {
      return await p;
    } finally {
      if (this.connecting === p) this.connecting = undefined;
    }
  }

  private async connect(): Promise<Bound> {
    const errors: string[] = [];
    let last: unknown;
    for (const url of this.opts.urls) {
      let client: Client | undefined;
      try {
        const lost = { value: false };
        client = await this.newClient(url, lost);
        await client.bind(this.opts.bindDn, this.opts.bindPassword);
        if (this.closed) {
          await client.unbind().catch(() => undefined);
          throw new LdapConnectionError(`LDAP target ${this.name} is closed`, { transient: false });
        }
        const b = { client, url, lost };
        this.current = b;
        this.failures = 0;
        this.retryAt = 0;
        this.setState(true, url, undefined);
        return b;
      } catch (e) {
        if (e instanceof LdapConnectionError && this.closed) throw e;
        last = e;
        errors.push(`${url}: ${classifyLdapError(e).message}`);
        // A failed bind keeps the socket open (ldap-targets.md §4.2): always release it.
        await client?.unbind().catch(() => undefined);
      }
    }
    this.failures += 1;
    const initial = this.opts.backoff?.initialMs ?? 200;
    const max = this.opts.backoff?.maxMs ?? 30_000;
    const ceiling = Math.min(max, initial * 2 ** Math.min(this.failures - 1, 30));
    // "Equal jitter": half fixed, half random, so many targets/workers do not reconnect in step.
    this.retryAt = Date.now() + ceiling / 2 + Math.random() * (ceiling / 2);
    const cls = classifyLdapError(last);
    const message = `LDAP target ${this.name}: cannot connect and bind (${errors.join("; ")})`;
    this.setState(false, this.state.url, message);
    throw new LdapConnectionError(message, { transient: cls.transient, code: cls.code, cause: last });
  }

  private async newClient(url: string, lost: { value: boolean }): Promise<Client> {
    const secureUrl = /^ldaps:/i.test(url);
    const startTls = Boolean(this.opts.tls?.startTls) && !secureUrl;
    const tlsOptions = secureUrl || startTls ? await this.tlsOptions() : undefined;
    const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
    // ldapts 8.2 keeps its close listeners on the plain socket after startTLS() and only acts when
    // that socket is still `this.socket` (now the TLS one): it never notices the server going away,
    // and later operations just time out. We own the plain socket, so we watch it: mark the client
    // lost and make ldapts drop the TLS socket (its unbind() destroys it), so further operations
    // on this Client hit oneShotConnect's refusal at once.
    const onPlainClose = (): void => {
      lost.value = true;
      void client.unbind().catch(() => undefined);
    };
    const client: Client = new Client({
      url,
      timeout: this.timeoutMs,
      connectTimeout: this.connectTimeoutMs,
      // ldapts: any non-empty tlsOptions turns an ldap:// URL into implicit TLS, so they go to the
      // constructor for ldaps:// only and to startTLS() otherwise.
      tlsOptions: secureUrl ? tlsOptions : undefined,
      autoRebind: !startTls,
      createConnection: startTls ? oneShotConnect(onPlainClose) : undefined,
    });
    if (startTls) {
      // servername drives SNI and the certificate name check; SNI must not be an IP (RFC 6066 §3),
      // and for IPs Node checks the SAN against the socket's host.
      await client.startTLS({ ...tlsOptions, host, servername: isIP(host) ? undefined : host });
    }
    return client;
  }

  private async tlsOptions(): Promise<ConnectionOptions> {
    const caFile = this.opts.tls?.caFile;
    this.ca ??= caFile
      ? readFile(caFile).catch((e: unknown) => {
          this.ca = undefined; // a file fixed later is picked up on the next connect
          throw new LdapConnectionError(`LDAP target ${this.name}: cannot read tls.caFile ${caFile}: ${(e as Error).message}`, {
            transient: false,
            cause: e,
          });
        })
      : Promise.resolve(undefined);
    const ca = await this.ca;
    return { ...(ca ? { ca: [ca] } : {}), rejectUnauthorized: this.opts.tls?.rejectUnauthorized ?? true };
  }

  /** After `fn` failed: if the socket is gone or unauthenticated, forget this client. */
  private afterFailure(b: Bound, e: unknown): void {
    if (!b.client.isConnected || b.lost.value || isConnectionLost(e)) {
      this.drop(b);
      this.setState(false, b.url, classifyLdapError(e).message);
    }
  }

  private drop(b: Bound): void {
    if (this.current === b) this.current = undefined;
    // Also clears the credentials autoRebind keeps in memory.
    void b.client.unbind().catch(() => undefined);
  }

  private setState(reachable: boolean, url: string | undefined, lastError: string | undefined): void {
    this.state = {
      reachable,
      since: reachable === this.state.reachable ? this.state.since : new Date().toISOString(),
      url: url ?? this.state.url,
      // kept after recovery: "last" error, useful on a status page
      lastError: lastError ?? this.state.lastError,
    };
  }
}

/**
 * A connection factory that connects once. After StartTLS, ldapts would transparently reconnect a
 * lost socket in plaintext and unauthenticated (autoRebind is not applied to startTLS sessions), so
 * later attempts fail instead, and LdapTarget makes a new Client that runs StartTLS and binds again.
 */
function oneShotConnect(onClose: () => void): typeof netConnect {
  let used = false;
  return ((port: number, host: string) => {
    if (!used) {
      used = true;
      return netConnect(port, host).once("close", onClose);
    }
    const s = new Socket();
    process.nextTick(() =>
      s.destroy(new LdapConnectionError("StartTLS connection lost; not reconnecting in plaintext", { transient: true })),
    );
    return s;
  }) as typeof netConnect;
}

/** Counting semaphore; a released slot goes straight to the next waiter (FIFO). */
class Semaphore {
  private active = 0;
  private readonly waiters: Array<() => void> = [];
  constructor(private readonly limit: number) {}

  acquire(): Promise<void> {
    if (this.active < this.limit) {
      this.active += 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.active -= 1;
  }
}
