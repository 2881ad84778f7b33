/**
 * Sends the conformance suites to a SCIM base URL and prints one line per step:
 * `ok   <client> <step>` or `FAIL <client> <step>: <reason>` followed by the request (passwords
 * redacted) and the response (body cut at 2 KB), then `N passed, N failed`.
 */
import { randomBytes } from "node:crypto";
import { MissingCapture, type ClientName, type Ctx, type Step, type StepRequest, type StepResponse, type Suite } from "./types.js";
import { suites } from "./suites/index.js";

export type ConformanceAuth = { token: string } | { basic: string };

export interface RunOptions {
  /** Per-request timeout; default 15 s. */
  timeoutMs?: number;
}

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

function authorization(auth: ConformanceAuth): string {
  return "token" in auth ? `Bearer ${auth.token}` : `Basic ${Buffer.from(auth.basic, "utf8").toString("base64")}`;
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

async function send(base: string, req: StepRequest, auth: ConformanceAuth, timeoutMs: number): Promise<StepResponse> {
  const headers: Record<string, string> = { Accept: "application/scim+json, application/json", ...req.headers };
  if (!req.anonymous) headers.Authorization = authorization(auth);
  let body: string | undefined;
  if (req.body !== undefined) {
    body = typeof req.body === "string" ? req.body : JSON.stringify(req.body);
    headers["Content-Type"] ??= "application/scim+json";
  }
  const res = await fetch(base.replace(/\/+$/, "") + req.path, { method: req.method, headers, body, signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, text, body: parsed };
}

function describeRequest(req: StepRequest): string {
  const body = req.body === undefined ? "" : ` ${typeof req.body === "string" ? req.body : JSON.stringify(redact(req.body))}`;
  return `${req.method} ${req.path}${req.anonymous ? " (no credentials)" : ""}${body}`;
}

function describeResponse(res: StepResponse): string {
  const text = res.body === undefined ? res.text : JSON.stringify(redact(res.body));
  return `${res.status} ${truncate(text)}`;
}

async function runStep(base: string, client: ClientName, step: Step, ctx: Ctx, auth: ConformanceAuth, timeoutMs: number, out: (line: string) => void): Promise<boolean | undefined> {
  let req: StepRequest;
  try {
    req = step.request(ctx);
  } catch (e) {
    if (e instanceof MissingCapture && step.cleanup) return undefined; // nothing was created
    out(`FAIL ${client} ${step.name}: ${(e as Error).message}`);
    return false;
  }
  let res: StepResponse;
  try {
    res = await send(base, req, auth, timeoutMs);
  } catch (e) {
    const err = e as Error;
    const reason = err.name === "TimeoutError" ? `no response within ${timeoutMs} ms` : `request failed: ${err.message}${err.cause ? ` (${String((err.cause as Error).message ?? err.cause)})` : ""}`;
    out(`FAIL ${client} ${step.name}: ${reason}`);
    out(`     request:  ${describeRequest(req)}`);
    return false;
  }
  let reason: string | undefined;
  try {
    reason = step.expect(res, ctx);
    if (reason === undefined) step.capture?.(res, ctx);
  } catch (e) {
    reason = e instanceof MissingCapture ? `cannot check: needs "${e.key}", which an earlier step did not capture` : `check failed: ${(e as Error).message}`;
  }
  if (reason === undefined) {
    out(`ok   ${client} ${step.name}`);
    return true;
  }
  out(`FAIL ${client} ${step.name}: ${reason}`);
  out(`     request:  ${describeRequest(req)}`);
  out(`     response: ${describeResponse(res)}`);
  return false;
}

/**
 * Runs the named clients' suites in order against `base` (e.g. https://host/scim/v2). Every step
 * runs even after a failure (later ones report what they miss), so clean-up steps at a suite's end
 * still delete what was created.
 */
export async function runSuites(base: string, auth: ConformanceAuth, clients: readonly ClientName[], out: (line: string) => void, opts: RunOptions = {}): Promise<{ passed: number; failed: number }> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  let passed = 0;
  let failed = 0;
  for (const client of clients) {
    const suite: Suite = suites[client];
    const ctx = createContext();
    for (const step of suite.steps) {
      const ok = await runStep(base, client, step, ctx, auth, timeoutMs, out);
      if (ok === true) passed++;
      else if (ok === false) failed++;
    }
  }
  out(`${passed} passed, ${failed} failed`);
  return { passed, failed };
}
