/**
 * The scheduler's pump on an async store: claims take time, and deliveries finish (or stop()
 * comes) while they run. Claims are answered by the test, one deferred answer at a time, so each
 * interleaving is made on purpose rather than hoped for; what is checked is which deliveries start,
 * what is claimed, and which leases are renewed and released.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Lease, SyncStateRow } from "../../db/sync.js";
import { Scheduler } from "../../hooks/delivery/scheduler.js";

const T0 = Date.parse("2026-01-01T00:00:00.000Z");

const row = (id: string, lease: Lease): SyncStateRow => ({
  resourceType: "User",
  resourceId: id,
  rule: "people",
  target: "ldap",
  state: "pending",
  wantedSeq: 1,
  deliveredSeq: 0,
  dn: null,
  dnKey: null,
  directoryId: null,
  written: null,
  attempts: 0,
  nextAttempt: null,
  lastAttempt: null,
  lastCode: null,
  lastError: null,
  secret: null,
  waitingFor: null,
  updated: "2026-01-01T00:00:00.000Z",
  leaseOwner: lease.owner,
  leaseUntil: lease.until,
  leaseToken: lease.token,
});

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
}
const deferred = <T>(): Deferred<T> => {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
};
/** Until `cond` holds, a turn of the event loop at a time (the pump runs from setImmediate). */
const until = async (cond: () => boolean) => {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  expect(cond()).toBe(true);
};

/** A scheduler over one target (concurrency 2) whose claims and deliveries the test answers. */
function harness(leaseMs = 60_000, presence = { held: true }) {
  const claims: { limit: number; lease: Lease; answer: Deferred<SyncStateRow[]> }[] = [];
  const deliveries: { id: string; done: Deferred<boolean> }[] = [];
  const renewals: { owner: string; tokens: number[] }[] = [];
  const releases: string[] = [];
  const clock = { ms: T0 };
  const scheduler = new Scheduler({
    targets: new Map([["ldap", { concurrency: 2 }]]),
    rulesOn: () => ["people"],
    claim: (_now, _rules, limit, lease) => {
      const answer = deferred<SyncStateRow[]>();
      claims.push({ limit, lease, answer });
      return answer.promise;
    },
    renewLeases: async (owner, tokens) => {
      renewals.push({ owner, tokens: [...tokens].sort((a, b) => a - b) });
      return tokens.length;
    },
    releaseLeases: async (owner) => {
      releases.push(owner);
      return 0;
    },
    present: () => presence.held,
    releaseLeasesOfGone: async () => 0,
    leaseFailed: (e) => {
      throw e;
    },
    leaseMs,
    anythingDue: async () => false,
    fanOut: async () => 0,
    deliver: (r) => {
      const done = deferred<boolean>();
      deliveries.push({ id: r.resourceId, done });
      return done.promise;
    },
    pumpFailed: (e) => {
      throw e;
    },
    storageFailing: () => false,
    pollMs: 3_600_000, // only the test wakes it
    now: () => new Date(clock.ms),
  });
  /** Answers claim `i` with rows of these ids, leased as it asked. */
  const answer = (i: number, ids: string[]) => claims[i]!.answer.resolve(ids.map((id) => row(id, claims[i]!.lease)));
  return { scheduler, claims, deliveries, renewals, releases, clock, answer };
}

let running: ReturnType<typeof harness> | undefined;
afterEach(async () => {
  if (!running) return;
  // Whatever a failing run left waiting is answered, so stop() can end.
  const { scheduler, claims, deliveries } = running;
  running = undefined;
  const stopping = scheduler.stop();
  for (let i = 0; i < 100; i++) {
    for (const c of claims) c.answer.resolve([]);
    for (const d of deliveries) d.done.resolve(true);
    await new Promise((r) => setImmediate(r));
  }
  await stopping;
});

/** A running harness whose first claim answered row a, now in flight. */
async function deliveringA(): Promise<ReturnType<typeof harness>> {
  running = harness();
  const { scheduler, claims, deliveries, answer } = running;
  scheduler.start();
  await until(() => claims.length === 1);
  answer(0, ["a"]);
  await until(() => deliveries.length === 1);
  return running;
}

describe("the scheduler's claims and leases", () => {
  it("claims the free slots plus a batch under one owner and a token per claim, starts up to the concurrency, and starts the queued rows as slots free without claiming again", async () => {
    running = harness();
    const { scheduler, claims, deliveries, answer } = running;
    scheduler.start();
    await until(() => claims.length === 1);
    expect(claims[0]!.limit).toBe(2 + 64);
    expect(claims[0]!.lease).toMatchObject({ owner: scheduler.owner, until: new Date(T0 + 60_000).toISOString() });
    answer(0, ["a", "b", "c", "d"]);
    await until(() => deliveries.length === 2);
    expect(deliveries.map((d) => d.id)).toEqual(["a", "b"]);
    deliveries[0]!.done.resolve(true);
    await until(() => deliveries.length === 3);
    deliveries[1]!.done.resolve(true);
    await until(() => deliveries.length === 4);
    expect(deliveries.map((d) => d.id)).toEqual(["a", "b", "c", "d"]);
    expect(claims).toHaveLength(1); // two rows in flight, none queued: nothing to claim for yet
    deliveries[2]!.done.resolve(true);
    await until(() => claims.length === 2);
    expect(claims[1]!.limit).toBe(1 + 64);
    expect(claims[1]!.lease.token).not.toBe(claims[0]!.lease.token);
  });

  it("a queued row whose lease ran out is not started: another worker may hold it now", async () => {
    running = harness();
    const { scheduler, claims, deliveries, clock, answer } = running;
    scheduler.start();
    await until(() => claims.length === 1);
    answer(0, ["a", "b", "c"]);
    await until(() => deliveries.length === 2);
    clock.ms = T0 + 60_000; // c's lease has run out (a heartbeat would have renewed it)
    deliveries[0]!.done.resolve(true);
    await until(() => claims.length === 2);
    expect(deliveries.map((d) => d.id)).toEqual(["a", "b"]);
    expect(claims[1]!.limit).toBe(1 + 64); // c is not counted as queued any more
    answer(1, ["c"]);
    await until(() => deliveries.length === 3);
    expect(deliveries[2]!.id).toBe("c");
  });

  it("a row whose outcome could not be recorded is delivered again under the lease it holds, before anything new is claimed", async () => {
    const { deliveries } = await deliveringA();
    deliveries[0]!.done.resolve(false); // the database could not take the outcome
    await until(() => deliveries.length === 2);
    expect(deliveries.map((d) => d.id)).toEqual(["a", "a"]);
  });

  it("a row claimed again while its previous delivery is still finishing here waits for it, and is delivered after it", async () => {
    const { scheduler, claims, deliveries, answer } = await deliveringA();
    // a's outcome committed (its lease ended) and a newer change made it pending; a wake-up claims
    // it again before the finished delivery has left the scheduler's books.
    scheduler.wake();
    await until(() => claims.length === 2);
    answer(1, ["a"]);
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    expect(deliveries).toHaveLength(1); // never two deliveries of one row at once
    deliveries[0]!.done.resolve(true);
    await until(() => deliveries.length === 2);
    expect(deliveries.map((d) => d.id)).toEqual(["a", "a"]);
  });

  it("claims nothing while the other workers cannot see this one alive, and claims again once they can", async () => {
    const presence = { held: false };
    running = harness(60_000, presence);
    const { scheduler, claims } = running;
    scheduler.start();
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(claims).toHaveLength(0);
    presence.held = true;
    scheduler.wake();
    await until(() => claims.length === 1);
  });

  it("the heartbeat renews the tokens of the rows queued and in flight, and no others", async () => {
    running = harness(30); // a heartbeat every 10 ms (the clock does not move, so nothing runs out)
    const { scheduler, claims, deliveries, renewals, answer } = running;
    scheduler.start();
    await until(() => claims.length === 1);
    answer(0, ["a", "b", "c"]);
    await until(() => deliveries.length === 2);
    deliveries[0]!.done.resolve(true);
    deliveries[1]!.done.resolve(true);
    await until(() => claims.length === 2);
    answer(1, []);
    const seen = renewals.length;
    for (let i = 0; i < 200 && renewals.length === seen; i++) await new Promise((r) => setTimeout(r, 5));
    expect(renewals.at(-1)).toEqual({ owner: scheduler.owner, tokens: [claims[0]!.lease.token] });
    deliveries[2]!.done.resolve(true);
    await until(() => claims.length === 3);
    answer(2, []);
    const after = renewals.length;
    for (let i = 0; i < 200 && renewals.length === after; i++) await new Promise((r) => setTimeout(r, 5));
    expect(renewals.at(-1)).toEqual({ owner: scheduler.owner, tokens: [] });
  });

  it("stop() during a claim waits for it, starts nothing it took, and releases the owner's leases", async () => {
    running = harness();
    const { scheduler, claims, deliveries, releases, answer } = running;
    scheduler.start();
    await until(() => claims.length === 1);
    let stopped = false;
    const stopping = scheduler.stop().then(() => (stopped = true));
    await new Promise((r) => setImmediate(r));
    expect(stopped).toBe(false); // the pump under way is waited for
    answer(0, ["a", "b"]);
    await until(() => stopped || deliveries.length > 0);
    expect(deliveries).toEqual([]);
    await stopping;
    expect(releases).toEqual([scheduler.owner]);
  });

  it("stop() waits for the deliveries in flight before it releases the leases", async () => {
    running = harness();
    const { scheduler, claims, deliveries, releases, answer } = running;
    scheduler.start();
    await until(() => claims.length === 1);
    answer(0, ["a"]);
    await until(() => deliveries.length === 1);
    const stopping = scheduler.stop();
    await new Promise((r) => setTimeout(r, 20));
    expect(releases).toEqual([]);
    deliveries[0]!.done.resolve(true);
    await stopping;
    expect(releases).toEqual([scheduler.owner]);
  });
});
