/**
 * Runs a piece of work only while this process holds its claim (Store.singleton): started when the
 * claim is won, stopped when it is lost, and the claim tried for again every `retryMs` meanwhile.
 * With SQLite the claim is granted at once (one serving process per file); with PostgreSQL it is
 * an advisory lock, so of several replicas exactly one runs the work, and another takes over
 * within about `retryMs` of the holder's connection ending (a crash, a kill, a partition).
 */
import type { Singleton, Store } from "../../db/store.js";

export interface SingletonWork {
  /** Called once the claim is held. */
  begin(): Promise<void>;
  /** Called when the claim is lost or released; must have stopped the work when it resolves. */
  end(): Promise<void>;
}

export class SingletonRunner {
  private claim: Singleton | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  /** The claim attempt or hand-over under way: start, stop and a loss run one after the other. */
  private step: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Pick<Store, "singleton">,
    private readonly name: string,
    private readonly work: SingletonWork,
    private readonly retryMs: number,
    private readonly onError: (e: unknown) => void,
  ) {}

  /** Whether the work runs here now. */
  get holding(): boolean {
    return this.claim !== undefined;
  }

  /** Tries for the claim now, and keeps trying until it is held; resolves after the first try. */
  start(): Promise<void> {
    this.stopped = false;
    return this.serially(() => this.tryClaim());
  }

  /** Stops the work (if it runs here) and releases the claim. */
  stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    return this.serially(async () => {
      const claim = this.claim;
      if (!claim) return;
      this.claim = undefined;
      try {
        await this.work.end();
      } finally {
        await claim.release();
      }
    });
  }

  private serially(fn: () => Promise<void>): Promise<void> {
    const next = this.step.then(fn);
    this.step = next.catch(() => undefined);
    return next;
  }

  private async tryClaim(): Promise<void> {
    if (this.stopped || this.claim) return;
    let claim: Singleton | undefined;
    try {
      claim = await this.store.singleton(this.name);
    } catch (e) {
      // The database unreachable: not ours to run now; try again later.
      this.onError(e);
    }
    if (!claim) return this.retryLater();
    if (this.stopped) return claim.release();
    this.claim = claim;
    void claim.lost.then(() => this.serially(() => this.onLost(claim)));
    try {
      await this.work.begin();
    } catch (e) {
      this.onError(e);
      this.claim = undefined;
      await this.work.end().catch(this.onError);
      await claim.release();
      this.retryLater();
    }
  }

  private async onLost(claim: Singleton): Promise<void> {
    if (this.claim !== claim) return; // released by stop(), or a failed begin
    this.claim = undefined;
    await this.work.end().catch(this.onError);
    this.retryLater();
  }

  private retryLater(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.serially(() => this.tryClaim()), this.retryMs);
    this.timer.unref();
  }
}
