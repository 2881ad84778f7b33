/**
 * `npm run bench [-- suite ...]`: prints figures and ratios against the targets in the issues.
 * Suites: scim (store and lists). Without arguments, all suites run.
 */
import { benchScimStore } from "./scim-store.js";

const suites: Record<string, () => Promise<void>> = {
  scim: () => benchScimStore(Number(process.env.BENCH_USERS ?? 100_000)),
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const unknown = wanted.filter((w) => !(w in suites));
if (unknown.length) {
  console.error(`unknown suite(s): ${unknown.join(", ")}; known: ${Object.keys(suites).join(", ")}`);
  process.exit(2);
}
console.log(`scimbridge bench on Node ${process.version}, ${new Date().toISOString()}`);
for (const name of wanted.length ? wanted : Object.keys(suites)) await suites[name]!();
