/** `scimbridge conformance`: option checking and the run, for cli.ts. */
import { writeFileSync } from "node:fs";
import { formatRecord, PreflightError, runConformance, summary, type ConformanceAuth, type StepRecord } from "./runner.js";
import { junitXml } from "./junit.js";
import { selected, SUITE_NAMES, type SuiteName } from "./selection.js";
import { checks } from "./checks/index.js";
import { suites } from "./suites/index.js";
import { stepId } from "./runner.js";

/** Every step's id and area, for checking --only/--skip. */
function allSteps(): { id: string; area: string }[] {
  return [...checks.map((c) => ({ id: c.id, area: c.area })), ...Object.entries(suites).flatMap(([name, suite]) => suite.steps.map((s) => ({ id: stepId(name, s), area: name })))];
}

export interface ConformanceArgs {
  base?: string | undefined;
  token?: string | undefined;
  basic?: string | undefined;
  client?: string[] | undefined;
  json?: boolean | undefined;
  junit?: string | undefined;
  only?: string[] | undefined;
  skip?: string[] | undefined;
}

const split = (v: string[] | undefined) => (v ?? []).flatMap((c) => c.split(",")).filter(Boolean);

/** The usage problem with the options, if any (cli.ts turns it into exit code 2). */
export function conformanceUsageError(a: ConformanceArgs): string | undefined {
  if (!a.base) return "conformance needs --base URL (the SCIM base, e.g. https://host/scim/v2)";
  let url: URL;
  try {
    url = new URL(a.base);
  } catch {
    return `--base ${a.base} is not a URL`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return "--base must be an http or https URL";
  if ((a.token === undefined) === (a.basic === undefined)) return "conformance needs one of --token T or --basic user:pass";
  if (a.basic !== undefined && !a.basic.includes(":")) return "--basic takes user:pass";
  const unknown = split(a.client).filter((c) => !SUITE_NAMES.includes(c as SuiteName));
  if (unknown.length) return `unknown --client ${unknown.join(", ")} (one of ${SUITE_NAMES.join(", ")})`;
  const steps = allSteps();
  const names = (p: string) => steps.some((s) => selected(s.id, s.area, { only: [p] }));
  const stray = [...split(a.only), ...split(a.skip)].filter((p) => !names(p));
  if (stray.length) return `--only/--skip ${stray.join(", ")} names no area or step (areas: ${[...new Set(steps.map((s) => s.area))].join(", ")})`;
  return undefined;
}

/**
 * Runs the chosen suites (all by default). Exit 0 when nothing failed, 1 when a step failed, 2
 * when the server is unreachable or refused the credentials (one line on stderr).
 */
export async function conformance(a: ConformanceArgs, out: (line: string) => void, err: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<number> {
  const chosen = split(a.client);
  const names = chosen.length ? SUITE_NAMES.filter((c) => chosen.includes(c)) : SUITE_NAMES;
  const auth: ConformanceAuth = a.token !== undefined ? { token: a.token } : { basic: a.basic! };
  const records: StepRecord[] = [];
  const report = (r: StepRecord) => {
    records.push(r);
    if (a.json) out(JSON.stringify(r));
    else formatRecord(r).forEach((l) => out(l));
  };
  // Ctrl-C (or SIGTERM from CI) ends the run after the current step, deleting what it created;
  // a second one ends the process at once.
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal).once("SIGTERM", onSignal);
  try {
    const counts = await runConformance(a.base!, auth, names, report, { only: split(a.only), skip: split(a.skip), signal: stop.signal });
    if (a.junit) writeFileSync(a.junit, junitXml(records, counts));
    (a.json ? err : out)(summary(counts));
    if (stop.signal.aborted) {
      err("conformance: interrupted; what the run created was deleted");
      return 130;
    }
    return counts.failed ? 1 : 0;
  } catch (e) {
    if (!(e instanceof PreflightError)) throw e;
    err(`conformance: ${e.message}`);
    return 2;
  } finally {
    process.off("SIGINT", onSignal).off("SIGTERM", onSignal);
  }
}
