/**
 * `npm run fuzz -- --runs N [--seed S] [--only NAME]`: every property of ./properties.ts, N runs
 * each, against the real HTTP app. Prints the time taken and the largest event-loop delay seen;
 * on a failure prints the property, its seed and the counterexample (repeat it with --seed), and
 * exits 1.
 */
import fc from "fast-check";
import { EVENT_LOOP_BOUND_MS, startFuzzTarget } from "./harness.js";
import { PROPERTIES } from "./properties.js";

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? undefined : process.argv[i + 1];
};
const runs = Number(arg("runs") ?? 1000);
const seed = arg("seed") === undefined ? Date.now() ^ (Math.random() * 0x100000000) : Number(arg("seed"));
const only = arg("only");

const target = await startFuzzTarget();
const t0 = performance.now();
let requests = 0;
let failed = false;
const maxima: number[] = [];
console.log(`fuzz: ${runs} runs per property, seed ${seed}`);
for (const [name, make] of Object.entries(PROPERTIES)) {
  if (only && only !== name) continue;
  const p0 = performance.now();
  let slowest = { ms: 0, what: "" };
  target.loop.reset();
  const details = await fc.check(
    fc.asyncProperty(make(target), async (r) => {
      requests++;
      const t1 = performance.now();
      const a = await target.send(r);
      const took = performance.now() - t1;
      if (took > slowest.ms) slowest = { ms: took, what: `${r.method} ${r.path.slice(0, 120)} ${String(r.body ?? "").slice(0, 160)} -> ${a.status}` };
      target.check(r, a);
    }),
    { numRuns: runs, seed, endOnFailure: true },
  );
  const secs = ((performance.now() - p0) / 1000).toFixed(1);
  const propertyMax = target.loop.max / 1e6;
  maxima.push(propertyMax);
  if (details.failed) {
    failed = true;
    console.log(`FAIL ${name}: seed ${details.seed}, path ${details.counterexamplePath ?? "-"} (repeat: npm run fuzz -- --runs ${runs} --seed ${details.seed} --only ${name})`);
    console.log(`  counterexample: ${JSON.stringify(details.counterexample)?.slice(0, 2000)}`);
    console.log(`  error: ${String(details.errorInstance).slice(0, 2000)}`);
  } else {
    console.log(`ok ${name}: ${details.numRuns} runs in ${secs} s, largest event-loop delay ${propertyMax.toFixed(1)} ms`);
    console.log(`  slowest request ${slowest.ms.toFixed(1)} ms: ${slowest.what}`);
  }
}
const maxDelayMs = Math.max(...maxima);
const total = (performance.now() - t0) / 1000;
console.log(`fuzz: ${requests} requests in ${total.toFixed(1)} s; 5xx: ${failed ? "see above" : 0}; crashes: ${target.crashes.length}; largest event-loop delay ${maxDelayMs.toFixed(1)} ms (bound ${EVENT_LOOP_BOUND_MS} ms, perf_hooks.monitorEventLoopDelay)`);
if (maxDelayMs > EVENT_LOOP_BOUND_MS) {
  failed = true;
  console.log(`FAIL event loop: blocked ${maxDelayMs.toFixed(1)} ms > ${EVENT_LOOP_BOUND_MS} ms`);
}
await target.close();
process.exit(failed || target.crashes.length ? 1 : 0);
