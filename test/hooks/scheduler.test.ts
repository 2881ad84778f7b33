/**
 * The scheduler's pump on an async store: a due query takes time, and deliveries finish (or
 * stop() comes) while it runs. Rows come from the test, one deferred answer at a time, so each
 * interleaving is made on purpose rather than hoped for; what is checked is which deliveries start.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { SyncStateRow } from "../../db/sync.js";
import { Scheduler } from "../../hooks/delivery/scheduler.js";

const row = (id: string): SyncStateRow => ({
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

/** A scheduler over one target whose due queries and deliveries the test answers. */
function harness() {
  const dueQueries: Deferred<SyncStateRow[]>[] = [];
  const deliveries: { id: string; done: Deferred<void> }[] = [];
  const scheduler = new Scheduler({
    targets: new Map([["ldap", { concurrency: 2 }]]),
    rulesOn: () => ["people"],
    due: () => {
      const d = deferred<SyncStateRow[]>();
      dueQueries.push(d);
      return d.promise;
    },
    anythingDue: async () => false,
    fanOut: async () => 0,
    deliver: (r) => {
      const done = deferred<void>();
      deliveries.push({ id: r.resourceId, done });
      return done.promise;
    },
    pumpFailed: (e) => {
      throw e;
    },
    storageFailing: () => false,
    pollMs: 3_600_000, // only the test wakes it
    now: () => new Date("2026-01-01T00:00:00.000Z"),
  });
  return { scheduler, dueQueries, deliveries };
}

let running: ReturnType<typeof harness> | undefined;
afterEach(async () => {
  if (!running) return;
  // Whatever a failing run left waiting is answered, so stop() can end.
  const { scheduler, dueQueries, deliveries } = running;
  running = undefined;
  const stopping = scheduler.stop();
  for (let i = 0; i < 100; i++) {
    for (const q of dueQueries) q.resolve([]);
    for (const d of deliveries) d.done.resolve();
    await new Promise((r) => setImmediate(r));
  }
  await stopping;
});

describe("the scheduler's pump, while a due query runs", () => {
  it("a row whose delivery finished meanwhile is not started again from that query's (older) answer", async () => {
    running = harness();
    const { scheduler, dueQueries, deliveries } = running;
    scheduler.start();
    await until(() => dueQueries.length === 1);
    dueQueries[0]!.resolve([row("a")]);
    await until(() => deliveries.length === 1);

    // The next pump asks again; while its query runs, a's outcome is recorded and its slot freed.
    scheduler.refresh();
    await until(() => dueQueries.length === 2);
    deliveries[0]!.done.resolve();
    await new Promise((r) => setImmediate(r));
    // The query read a before that outcome committed: still pending, as it was.
    dueQueries[1]!.resolve([row("a")]);
    // The freed slot woke another pump; its query reads the committed state: nothing due.
    await until(() => dueQueries.length === 3);
    dueQueries[2]!.resolve([]);
    await new Promise((r) => setImmediate(r));
    expect(deliveries.map((d) => d.id)).toEqual(["a"]);
  });

  it("a row in flight when the query was asked but not when it answers is skipped; the others start", async () => {
    running = harness();
    const { scheduler, dueQueries, deliveries } = running;
    scheduler.start();
    await until(() => dueQueries.length === 1);
    dueQueries[0]!.resolve([row("a")]);
    await until(() => deliveries.length === 1);
    scheduler.refresh();
    await until(() => dueQueries.length === 2);
    deliveries[0]!.done.resolve();
    await new Promise((r) => setImmediate(r));
    dueQueries[1]!.resolve([row("a"), row("b")]);
    await until(() => deliveries.length === 2);
    expect(deliveries.map((d) => d.id)).toEqual(["a", "b"]);
    deliveries[1]!.done.resolve();
    await until(() => dueQueries.length === 3);
    dueQueries[2]!.resolve([]);
  });

  it("stop() during a due query waits for the pump, which then starts nothing", async () => {
    running = harness();
    const { scheduler, dueQueries, deliveries } = running;
    scheduler.start();
    await until(() => dueQueries.length === 1);
    let stopped = false;
    const stopping = scheduler.stop().then(() => (stopped = true));
    await new Promise((r) => setImmediate(r));
    expect(stopped).toBe(false); // the pump under way is waited for
    dueQueries[0]!.resolve([row("a"), row("b")]);
    await until(() => stopped || deliveries.length > 0);
    expect(deliveries).toEqual([]);
    await stopping;
  });
});
