/**
 * Property-based fuzzing of the real HTTP app (test/fuzz): generated filters, PATCH bodies, Bulk
 * requests, bodies in odd encodings and query strings. Every answer: no 5xx, a SCIM Error body on
 * every 4xx, no uncaught exception or unhandled rejection; the event loop is never blocked longer
 * than EVENT_LOOP_BOUND_MS. A fixed number of runs here; `npm run fuzz -- --runs N` for long
 * runs. A failure names fast-check's seed (repeat it with `npm run fuzz -- --seed S --only NAME`).
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EVENT_LOOP_BOUND_MS, startFuzzTarget, type FuzzTarget } from "../fuzz/harness.js";
import { PROPERTIES } from "../fuzz/properties.js";

const RUNS = 200;
let target: FuzzTarget;
beforeAll(async () => {
  target = await startFuzzTarget();
});
afterAll(async () => target?.close());

describe("fuzzing the SCIM app", () => {
  for (const [name, make] of Object.entries(PROPERTIES)) {
    it(`${name}: ${RUNS} generated requests, no 5xx, a SCIM error on every 4xx`, async () => {
      await fc.assert(
        fc.asyncProperty(make(target), async (r) => target.check(r, await target.send(r))),
        { numRuns: RUNS },
      );
    }, 20_000);
  }

  it(`no crash, and the event loop never blocked longer than ${EVENT_LOOP_BOUND_MS} ms`, () => {
    expect(target.crashes).toEqual([]);
    expect(target.loop.max / 1e6).toBeLessThan(EVENT_LOOP_BOUND_MS);
  });
});
