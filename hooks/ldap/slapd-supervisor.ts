/**
 * Supervision of the embedded slapd: when the process exits without being asked to (a crash, a
 * kill -9, the OOM killer), it is started again on the same data directory and port, with
 * exponential backoff between attempts (1 s doubling to 30 s), so deliveries resume without
 * restarting scimbridge. Every exit and restart is logged; status() is what /readyz shows.
 */
import type { Logger } from "pino";
import type { SlapdHandle } from "./slapd.js";

export interface SupervisedStatus {
  state: "running" | "restarting" | "stopped";
  pid: number | null;
  /** Restarts since scimbridge started. */
  restarts: number;
  /** When and how the process last exited unasked. */
  lastExit: string | null;
  /** When the next start attempt is due while restarting. */
  nextAttemptAt: string | null;
  lastError: string | null;
}

export interface SupervisorOptions {
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  now?: () => Date;
}

export class SlapdSupervisor {
  private stopping = false;
  private timer: NodeJS.Timeout | undefined;
  private attempts = 0;
  private st: SupervisedStatus;

  constructor(
    private handle: SlapdHandle,
    /** Starts slapd again as it was started (same dir, port, suffix, root password). */
    private readonly restart: () => Promise<SlapdHandle>,
    private readonly logger: Logger,
    private readonly o: SupervisorOptions = {},
  ) {
    this.st = { state: "running", pid: handle.pid, restarts: 0, lastExit: null, nextAttemptAt: null, lastError: null };
    this.watch(handle);
  }

  get current(): SlapdHandle {
    return this.handle;
  }

  status(): SupervisedStatus {
    return { ...this.st };
  }

  private now(): Date {
    return this.o.now?.() ?? new Date();
  }

  private watch(h: SlapdHandle): void {
    void h.exited.then(() => {
      if (this.stopping || h !== this.handle) return;
      this.st = { ...this.st, state: "restarting", pid: null, lastExit: `${this.now().toISOString()}: pid ${h.pid} exited` };
      this.logger.error({ pid: h.pid, url: h.url }, "embedded slapd exited; restarting it");
      this.schedule();
    });
  }

  private schedule(): void {
    const initial = this.o.initialBackoffMs ?? 1000;
    const delay = Math.min(this.o.maxBackoffMs ?? 30_000, initial * 2 ** Math.min(this.attempts, 20));
    this.attempts++;
    this.st.nextAttemptAt = new Date(this.now().getTime() + delay).toISOString();
    this.timer = setTimeout(() => void this.attempt(), delay);
    this.timer.unref();
  }

  private async attempt(): Promise<void> {
    if (this.stopping) return;
    try {
      const h = await this.restart();
      if (this.stopping) {
        await h.stop();
        return;
      }
      this.handle = h;
      this.attempts = 0;
      this.st = { ...this.st, state: "running", pid: h.pid, restarts: this.st.restarts + 1, nextAttemptAt: null, lastError: null };
      this.logger.info({ pid: h.pid, url: h.url, restarts: this.st.restarts }, "embedded slapd restarted");
      this.watch(h);
    } catch (e) {
      this.st.lastError = e instanceof Error ? e.message : String(e);
      this.logger.error({ err: e, attempt: this.attempts }, "embedded slapd restart failed; trying again");
      this.schedule();
    }
  }

  /** Stops supervising, then slapd. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    this.st = { ...this.st, state: "stopped", nextAttemptAt: null };
    await this.handle.stop();
  }
}

/**
 * The target health of the embedded directory with the supervisor's view added: while slapd is
 * being restarted, lastError says so (with the restart count and the next attempt), which is what
 * /readyz and the admin page's target list show.
 */
export function withSupervisor<T extends { reachable: boolean; lastError: string | null }>(
  health: Record<string, T>,
  target: string,
  s: SupervisedStatus,
): Record<string, T | (T & { supervisor: SupervisedStatus })> {
  const h = health[target];
  if (!h) return health;
  const restarting = s.state === "restarting" ? `embedded slapd exited and is being restarted (${s.restarts} restarts so far; next attempt ${s.nextAttemptAt ?? "now"}${s.lastError ? `; last attempt: ${s.lastError}` : ""})` : null;
  return { ...health, [target]: { ...h, lastError: restarting ?? h.lastError, supervisor: s } };
}
