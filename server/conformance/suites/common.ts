/** Building blocks shared by the suites: schema URNs, query strings, response checks. */
import type { Ctx, Step, StepResponse } from "../types.js";
import { attr, sameMeaning } from "../compare.js";

export const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
export const GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
export const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
export const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
export const LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
export const ERROR = "urn:ietf:params:scim:api:messages:2.0:Error";

export type Json = Record<string, unknown>;

/** `path?k=v&…` with each value percent-encoded as a client's HTTP library would. */
export function query(path: string, params: Record<string, string | number>): string {
  const qs = Object.entries(params)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join("&");
  return qs ? `${path}?${qs}` : path;
}

export const patchOp = (...ops: Json[]) => ({ schemas: [PATCH_OP], Operations: ops });

/** The body as an object ({} when it is not one). */
export function json(res: StepResponse): Json {
  const b = res.body;
  return b !== null && typeof b === "object" && !Array.isArray(b) ? (b as Json) : {};
}

export function status(res: StepResponse, ...codes: number[]): string | undefined {
  return codes.includes(res.status) ? undefined : `expected status ${codes.join(" or ")}, got ${res.status}`;
}

/**
 * Reads a dotted path (`name.givenName`, or a URN-keyed extension as a first segment); attribute
 * names match in any case (RFC 7643 §2.1).
 */
export function at(obj: unknown, path: string[]): unknown {
  let cur = obj;
  for (const key of path) cur = attr(cur, key);
  return cur;
}

/** The value at `path` means `want`: key order and the order of multi-valued attributes aside. */
export function equals(res: StepResponse, path: string[], want: unknown): string | undefined {
  const got = at(res.body, path);
  return sameMeaning(got, want) ? undefined : `expected ${path.join(".")} ${JSON.stringify(want)}, got ${JSON.stringify(got)}`;
}

/** A resource body with a server-issued string id; PingFederate ≥1.2 reports users without one. */
export function hasId(res: StepResponse): string | undefined {
  const id = json(res).id;
  return typeof id === "string" && id.length > 0 ? undefined : `response has no string "id"`;
}

export function noPassword(res: StepResponse): string | undefined {
  return JSON.stringify(res.body ?? "").includes('"password"') ? "the response returns a password" : undefined;
}

/** `Resources` of a ListResponse (empty when absent, as RFC 7644 §3.4.2 allows for zero results). */
export function resources(res: StepResponse): Json[] {
  const r = attr(res.body, "Resources");
  return Array.isArray(r) ? (r as Json[]) : [];
}

/**
 * A ListResponse whose paging fields are integers (Okta requires it) and, when given, whose
 * resources are exactly the ids named (order-insensitive).
 */
export function list(res: StepResponse, ids?: string[]): string | undefined {
  const bad = status(res, 200);
  if (bad) return bad;
  const b = json(res);
  const schemas = attr(b, "schemas");
  if (!Array.isArray(schemas) || !schemas.includes(LIST)) return `schemas does not name ${LIST}`;
  for (const k of ["totalResults", "startIndex", "itemsPerPage"]) {
    const v = attr(b, k);
    if (k !== "totalResults" && v === undefined) continue;
    if (!Number.isInteger(v)) return `${k} is ${JSON.stringify(v)}, not an integer`;
  }
  if (ids === undefined) return undefined;
  const got = resources(res).map((r) => String(r.id));
  const same = got.length === ids.length && ids.every((id) => got.includes(id));
  if (!same) return `expected resources ${JSON.stringify(ids)}, got ${JSON.stringify(got)}`;
  if (attr(b, "totalResults") !== ids.length) return `totalResults is ${JSON.stringify(attr(b, "totalResults"))}, expected ${ids.length}`;
  return undefined;
}

/** The member ids of a Group body, sorted. */
export function memberIds(res: StepResponse): string[] {
  const m = attr(res.body, "members");
  return Array.isArray(m) ? (m as Json[]).map((x) => String(x.value)).sort() : [];
}

export function members(res: StepResponse, ids: string[]): string | undefined {
  const got = memberIds(res);
  const want = [...ids].sort();
  return JSON.stringify(got) === JSON.stringify(want) ? undefined : `expected members ${JSON.stringify(want)}, got ${JSON.stringify(got)}`;
}

/** A SCIM error body (RFC 7644 §3.12): Error schema, `status` as a JSON string, optional scimType. */
export function scimError(res: StepResponse, code: number, scimType?: string): string | undefined {
  const bad = status(res, code);
  if (bad) return bad;
  const b = json(res);
  if (!Array.isArray(b.schemas) || !b.schemas.includes(ERROR)) return `error body's schemas does not name ${ERROR}`;
  if (b.status !== String(code)) return `error body's status is ${JSON.stringify(b.status)}, expected the string "${code}" (RFC 7644 §3.12)`;
  if (scimType !== undefined && b.scimType !== scimType) return `scimType is ${JSON.stringify(b.scimType)}, expected "${scimType}"`;
  return undefined;
}

/** The first failure of several checks. */
export function all(...checks: (string | undefined)[]): string | undefined {
  return checks.find((c) => c !== undefined);
}

/** Stores the created resource's id under `key`. */
export const captureId = (key: string) => (res: StepResponse, ctx: Ctx) => {
  const id = json(res).id;
  if (typeof id === "string") ctx.set(key, id);
};

/** A GET that checks the resource now reads as expected (after a PATCH that may answer 204). */
export function verify(name: string, source: string, path: (ctx: Ctx) => string, check: (res: StepResponse, ctx: Ctx) => string | undefined): Step {
  return { name, source, request: (ctx) => ({ method: "GET", path: path(ctx) }), expect: (res, ctx) => status(res, 200) ?? check(res, ctx) };
}

/** A PATCH answer: 200 with the resource, or 204 with none (both accepted by every client here). */
export const patched = (res: StepResponse) => status(res, 200, 204);

/** Deletes a resource this suite created; skipped when it never was, 404 when already gone. */
export function cleanup(kind: "Users" | "Groups", key: string): Step {
  return {
    name: `cleanup: delete ${kind === "Users" ? "user" : "group"} ${key}`,
    source: "https://datatracker.ietf.org/doc/html/rfc7644#section-3.6",
    cleanup: true,
    request: (ctx) => ({ method: "DELETE", path: `/${kind}/${ctx.get(key)}` }),
    expect: (res) => status(res, 204, 200, 404),
  };
}
