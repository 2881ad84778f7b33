/**
 * Runs the conformance checks and client suites against a SCIM base URL. Each step ends as pass,
 * fail (a MUST broken), warn (a SHOULD or a known identity-provider expectation broken) or skip (a
 * feature the server's /ServiceProviderConfig says it lacks, or a step whose prerequisite failed).
 * Whatever the run created is deleted at its end, even when steps fail.
 */
import { randomBytes } from "node:crypto";
import { CheckSkipped, MissingCapture, type Check, type Ctx, type Feature, type Level, type Outcome, type Step, type StepRequest, type StepResponse } from "./types.js";
import { createHttp, deleteCreated, type RecordingHttp } from "./http.js";
import { suites } from "./suites/index.js";
import { checks } from "./checks/index.js";
import { selected, type SuiteName } from "./selection.js";

import type { ConformanceAuth } from "./types.js";
export type { ConformanceAuth };

export interface RunOptions {
  /** Per-request timeout; default 15 s. */
  timeoutMs?: number;
  /** Areas or step ids to run (all when empty), and to leave out. */
  only?: string[];
  skip?: string[];
  /** Stops the run before its next step (Ctrl-C); what was created is still deleted. */
  signal?: AbortSignal;
}

/** One step's result: what --json prints and --junit writes. */
export interface StepRecord {
  id: string;
  area: string;
  title: string;
  source: string;
  level: Level;
  outcome: Outcome;
  reason?: string;
  request?: string;
  response?: string;
  ms: number;
}

export interface Counts {
  passed: number;
  failed: number;
  warned: number;
  skipped: number;
}

/** The server cannot be tested: unreachable, or it refused the credentials (exit code 2). */
export class PreflightError extends Error {}

const BODY_LIMIT = 2048;

export function createContext(): Ctx {
  const run = randomBytes(4).toString("hex");
  const vars = new Map<string, unknown>();
  const need = (key: string) => {
    if (!vars.has(key)) throw new MissingCapture(key);
    return vars.get(key);
  };
  return {
    run,
    name: (prefix) => `${prefix}-${run}`,
    set: (key, value) => void vars.set(key, value),
    get: (key) => String(need(key)),
    obj: (key) => {
      const v = need(key);
      if (v === null || typeof v !== "object") throw new MissingCapture(key);
      return structuredClone(v) as Record<string, unknown>;
    },
    has: (key) => vars.has(key),
  };
}

/** Deep copy with every `password` value (any case) replaced. */
export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, /password/i.test(k) ? "[redacted]" : redact(v)]));
}

function truncate(text: string): string {
  return text.length > BODY_LIMIT ? `${text.slice(0, BODY_LIMIT)}… (${text.length} characters)` : text;
}

function describeRequest(req: StepRequest): string {
  const b = req.body;
  const body = b === undefined ? "" : ` ${typeof b === "string" ? b : b instanceof Uint8Array ? `(${b.length} bytes)` : JSON.stringify(redact(b))}`;
  return `${req.method} ${req.path}${req.anonymous ? " (no credentials)" : ""}${body}`;
}

function describeResponse(res: StepResponse): string {
  const text = res.body === undefined ? res.text : JSON.stringify(redact(res.body));
  return `${res.status} ${truncate(text)}`;
}

function describeError(e: unknown, timeoutMs: number): string {
  const err = e as Error;
  if (err.name === "TimeoutError") return `no response within ${timeoutMs} ms`;
  return `request failed: ${err.message}${err.cause ? ` (${String((err.cause as Error).message ?? err.cause)})` : ""}`;
}

/** A suite step's id: `<suite>.<name as a slug>`. */
export function stepId(suite: string, step: Step): string {
  return step.id ?? `${suite}.${step.name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "")}`;
}

type Judged = Pick<StepRecord, "outcome" | "reason" | "request" | "response">;

function judged(level: Level, reason: string | undefined, http: RecordingHttp): Judged {
  if (reason === undefined) return { outcome: "pass" };
  const last = http.last;
  return {
    outcome: level === "must" ? "fail" : "warn",
    reason,
    ...(last ? { request: describeRequest(last.req) } : {}),
    ...(last?.res ? { response: describeResponse(last.res) } : {}),
  };
}

/**
 * A client suite's steps replay what one identity provider sends: a miss is a known IdP
 * expectation (warn) unless the step says MUST; the rfc suite's steps are RFC MUSTs.
 */
export function suiteLevel(suite: SuiteName, step: Step): Level {
  return step.level ?? (suite === "rfc" ? "must" : "should");
}

async function runSuiteStep(step: Step, level: Level, ctx: Ctx, http: RecordingHttp, timeoutMs: number): Promise<Judged | undefined> {
  http.last = undefined;
  let req: StepRequest;
  try {
    req = step.request(ctx);
  } catch (e) {
    if (e instanceof MissingCapture) return step.cleanup ? undefined : { outcome: "skip", reason: e.message };
    return judged(level, (e as Error).message, http);
  }
  let res: StepResponse;
  try {
    res = await http.send(req);
  } catch (e) {
    return judged(level, describeError(e, timeoutMs), http);
  }
  let reason: string | undefined;
  try {
    reason = step.expect(res, ctx);
    if (reason === undefined) step.capture?.(res, ctx);
  } catch (e) {
    if (e instanceof MissingCapture) return { outcome: "skip", reason: e.message };
    reason = `check failed: ${(e as Error).message}`;
  }
  return judged(level, reason, http);
}

async function runCheck(check: Check, ctx: Ctx, http: RecordingHttp, features: Set<Feature>, timeoutMs: number): Promise<Judged> {
  if (check.requires && !features.has(check.requires)) return { outcome: "skip", reason: `/ServiceProviderConfig says ${check.requires} is not supported` };
  http.last = undefined;
  try {
    return judged(check.level, await check.run(http, ctx), http);
  } catch (e) {
    if (e instanceof CheckSkipped) return { outcome: "skip", reason: e.message };
    // fetch rejects with TimeoutError, or TypeError "fetch failed" when the connection fails.
    const network = (e as Error).name === "TimeoutError" || ((e as Error).name === "TypeError" && (e as Error).message === "fetch failed");
    return judged(check.level, network ? describeError(e, timeoutMs) : (e as Error).message, http);
  }
}

/**
 * Checks the server can be tested at all (exit 2 otherwise) and reads which features its
 * /ServiceProviderConfig says it supports (RFC 7643 §5); all are assumed when it cannot be read.
 */
export async function preflight(http: RecordingHttp, base: string): Promise<Set<Feature>> {
  const all: Feature[] = ["patch", "bulk", "filter", "sort", "etag", "changePassword"];
  let res: StepResponse;
  try {
    res = await http.send({ method: "GET", path: "/Users?count=1" });
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    throw new PreflightError(`cannot reach ${base}: ${err.cause?.code ?? err.cause?.message ?? err.message}`);
  }
  if (res.status === 401 || res.status === 403) throw new PreflightError(`${base} refused the credentials (GET /Users answered ${res.status})`);
  const spc = await http.send({ method: "GET", path: "/ServiceProviderConfig" }).catch(() => undefined);
  const body = spc?.status === 200 ? (spc.body as Record<string, { supported?: unknown } | undefined>) : undefined;
  if (!body || typeof body !== "object") return new Set(all);
  return new Set(all.filter((f) => body[f]?.supported !== false));
}

/**
 * Runs the chosen suites in order against `base` (e.g. https://host/scim/v2), calling `report`
 * once per step. Every step runs even after a failure; what was created is deleted at the end.
 */
export async function runConformance(base: string, auth: ConformanceAuth, names: readonly SuiteName[], report: (r: StepRecord) => void, opts: RunOptions = {}): Promise<Counts> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const http = createHttp(base, auth, timeoutMs);
  const features = await preflight(http, base);
  const counts: Counts = { passed: 0, failed: 0, warned: 0, skipped: 0 };
  const tally = (r: StepRecord) => {
    counts[r.outcome === "pass" ? "passed" : r.outcome === "fail" ? "failed" : r.outcome === "warn" ? "warned" : "skipped"]++;
    report(r);
  };
  for (const name of names) {
    const ctx = createContext();
    http.userAgent = `scimbridge-conformance (${name})`;
    try {
      if (name === "checks") {
        for (const check of checks) {
          if (opts.signal?.aborted) break;
          if (!selected(check.id, check.area, opts)) continue;
          const t = Date.now();
          const j = await runCheck(check, ctx, http, features, timeoutMs);
          tally({ id: check.id, area: check.area, title: check.title, source: check.source, level: check.level, ...j, ms: Date.now() - t });
        }
        continue;
      }
      for (const step of suites[name].steps) {
        if (opts.signal?.aborted) break;
        const id = stepId(name, step);
        if (!step.cleanup && !selected(id, name, opts)) continue;
        const t = Date.now();
        const level = suiteLevel(name, step);
        const j = await runSuiteStep(step, level, ctx, http, timeoutMs);
        if (j) tally({ id, area: name, title: step.name, source: step.source, level, ...j, ms: Date.now() - t });
      }
    } finally {
      // Each suite leaves the server as it found it, whatever failed.
      await deleteCreated(http);
    }
    if (opts.signal?.aborted) break;
  }
  return counts;
}

export function summary(c: Counts): string {
  return `${c.passed} passed, ${c.failed} failed, ${c.warned} warned, ${c.skipped} skipped`;
}

/** The text form of a record: `ok   id`, or FAIL/WARN/SKIP with the reason (and request/response). */
export function formatRecord(r: StepRecord): string[] {
  const tag = { pass: "ok  ", fail: "FAIL", warn: "WARN", skip: "SKIP" }[r.outcome];
  if (r.outcome === "pass") return [`${tag} ${r.id}`];
  const lines = [`${tag} ${r.id}: ${r.reason ?? ""}${r.outcome === "skip" ? "" : ` [${r.level === "must" ? "MUST" : "SHOULD"}: ${r.source}]`}`];
  if (r.request) lines.push(`     request:  ${r.request}`);
  if (r.response) lines.push(`     response: ${r.response}`);
  return lines;
}

/** Text-mode run (kept for the client-suite tests): prints each record and the summary. */
export async function runSuites(base: string, auth: ConformanceAuth, names: readonly SuiteName[], out: (line: string) => void, opts: RunOptions = {}): Promise<Counts> {
  const counts = await runConformance(base, auth, names, (r) => formatRecord(r).forEach((l) => out(l)), opts);
  out(summary(counts));
  return counts;
}
