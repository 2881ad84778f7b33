/**
 * Conformance suites are data: each Step builds one request from the run's context, judges the
 * response, and may capture values (ids, whole resources) for later steps. The runner
 * (runner.ts) sends them to any SCIM base URL, so a team can replay what each IdP sends.
 */

export type ClientName = "pingfederate" | "pingone" | "entra" | "okta" | "rfc";

export interface StepRequest {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Relative to the base URL, starting with "/", query string included (already encoded). */
  path: string;
  headers?: Record<string, string>;
  /** JSON-encoded when an object; a string is sent as-is (to test malformed bodies). */
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
