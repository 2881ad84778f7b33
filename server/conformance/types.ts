/**
 * Conformance suites are data: each Step builds one request from the run's context, judges the
 * response, and may capture values (ids, whole resources) for later steps. The runner
 * (runner.ts) sends them to any SCIM base URL, so a team can replay what each IdP sends.
 */

export type ClientName = "pingfederate" | "pingone" | "entra" | "okta" | "rfc";

/** fail: the RFC says MUST; warn: SHOULD, or what a known identity provider expects. */
export type Level = "must" | "should";

/** A ServiceProviderConfig capability (RFC 7643 §5); a check needing one the server lacks is skipped. */
export type Feature = "patch" | "bulk" | "filter" | "sort" | "etag" | "changePassword";

export type Outcome = "pass" | "fail" | "warn" | "skip";

export interface StepRequest {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Replaces the Authorization header the run would send (scheme-case checks). */
  authorization?: string;
  /** Relative to the base URL, starting with "/", query string included (already encoded). */
  path: string;
  headers?: Record<string, string>;
  /** JSON-encoded when an object; a string or bytes are sent as-is (to test malformed bodies). */
  body?: unknown;
  /** Send no Authorization header (the 401 checks). */
  anonymous?: boolean;
}

export interface StepResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed JSON body, or undefined when empty or not JSON. */
  body: unknown;
}

/** Per-suite-run state: a random suffix for unique names, and values captured by earlier steps. */
export interface Ctx {
  /** Random lowercase hex, different for every run. */
  readonly run: string;
  /** A name unique to this run: `${prefix}-${run}`. */
  name(prefix: string): string;
  set(key: string, value: unknown): void;
  /** A captured string (an id); throws MissingCapture when an earlier step did not provide it. */
  get(key: string): string;
  /** A captured object (a whole resource); throws MissingCapture likewise. */
  obj(key: string): Record<string, unknown>;
  has(key: string): boolean;
}

export class MissingCapture extends Error {
  constructor(readonly key: string) {
    super(`not run: needs "${key}", which an earlier step did not capture`);
  }
}

export interface Step {
  name: string;
  /** Stable id for --only/--skip and reports; default `<suite>.<name as a slug>`. */
  id?: string;
  /** Default: "must" in the rfc suite, "should" (an IdP expectation) in a client's suite. */
  level?: Level;
  /** The vendor document (or RFC section) this request shape comes from. */
  source: string;
  request: (ctx: Ctx) => StepRequest;
  /** undefined when the response is acceptable, else why not. */
  expect: (res: StepResponse, ctx: Ctx) => string | undefined;
  capture?: (res: StepResponse, ctx: Ctx) => void;
  /**
   * A clean-up step (deleting what the suite created, also where the client itself never
   * deletes): skipped when there is nothing to delete, and a 404 counts as done.
   */
  cleanup?: boolean;
}

export interface Suite {
  client: ClientName;
  steps: Step[];
}

/** Sends requests for a Check (with the run's credentials unless the request says otherwise). */
export interface Http {
  send(req: StepRequest): Promise<StepResponse>;
  /** The run's Authorization header value. */
  readonly authorization: string;
}

/** Why a check cannot judge the server: its precondition is missing (not a defect). */
export class CheckSkipped extends Error {}

/**
 * A check of one server behaviour, which may take several requests (create, change, read back).
 * `run` answers undefined when the server behaves, else why not; thrown errors are failures.
 */
export interface Check {
  /** `<area>.<name>`, e.g. `auth.scheme-case-insensitive`. */
  id: string;
  area: string;
  title: string;
  /** The RFC section or vendor document the check applies. */
  source: string;
  level: Level;
  requires?: Feature;
  run(http: Http, ctx: Ctx): Promise<string | undefined>;
}

/** How the tester authenticates to the server under test: a bearer token, or user:password (Basic). */
export type ConformanceAuth = { token: string } | { basic: string };
