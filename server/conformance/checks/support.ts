/** Helpers the checks share: creating what a check needs, and reading answers by meaning. */
import { attr, hasAttr } from "../compare.js";
import type { Ctx, Http, StepResponse } from "../types.js";
import { ERROR, GROUP, PATCH_OP, USER } from "../suites/common.js";

export const RFC7643 = "https://datatracker.ietf.org/doc/html/rfc7643";
export const RFC7644 = "https://datatracker.ietf.org/doc/html/rfc7644";
export const RFC7232 = "https://datatracker.ietf.org/doc/html/rfc7232";
export const RFC7235 = "https://datatracker.ietf.org/doc/html/rfc7235";
export const RFC8259 = "https://datatracker.ietf.org/doc/html/rfc8259";

export type Body = Record<string, unknown>;

/** Thrown when a check's own preparation fails: the check fails with this reason. */
export class SetupFailed extends Error {}

export function body(res: StepResponse): Body {
  const b = res.body;
  return b !== null && typeof b === "object" && !Array.isArray(b) ? (b as Body) : {};
}

let serial = 0;
/** A userName unique to the run and the check. */
export const uniqueName = (ctx: Ctx, label: string) => `chk-${ctx.run}-${label}-${++serial}`;

export async function createUser(http: Http, ctx: Ctx, label: string, extra: Body = {}): Promise<{ id: string; body: Body; res: StepResponse }> {
  const userName = uniqueName(ctx, label);
  const res = await http.send({ method: "POST", path: "/Users", body: { schemas: [USER], userName, name: { givenName: "Chk", familyName: label }, ...extra } });
  const id = attr(res.body, "id");
  if (res.status !== 201 || typeof id !== "string") throw new SetupFailed(`setup: creating a user answered ${res.status}`);
  return { id, body: body(res), res };
}

export async function createGroup(http: Http, ctx: Ctx, label: string, memberIds: string[] = []): Promise<{ id: string; body: Body }> {
  const payload: Body = { schemas: [GROUP], displayName: uniqueName(ctx, label) };
  if (memberIds.length) payload.members = memberIds.map((value) => ({ value }));
  const res = await http.send({ method: "POST", path: "/Groups", body: payload });
  const id = attr(res.body, "id");
  if (res.status !== 201 || typeof id !== "string") throw new SetupFailed(`setup: creating a group answered ${res.status}`);
  return { id, body: body(res) };
}

export async function read(http: Http, path: string): Promise<Body> {
  const res = await http.send({ method: "GET", path });
  if (res.status !== 200) throw new SetupFailed(`reading ${path} back answered ${res.status}`);
  return body(res);
}

export const patchBody = (...ops: Body[]) => ({ schemas: [PATCH_OP], Operations: ops });

/** Member ids of a Group body, in the order returned (duplicates kept). */
export function memberValues(group: Body): string[] {
  const m = attr(group, "members");
  return Array.isArray(m) ? m.map((x) => String(attr(x, "value"))) : [];
}

export function expectStatus(res: StepResponse, ...codes: number[]): string | undefined {
  return codes.includes(res.status) ? undefined : `expected status ${codes.join(" or ")}, got ${res.status}`;
}

/** A SCIM error body (RFC 7644 §3.12) with the status and, when given, the scimType. */
export function scimError(res: StepResponse, code: number, scimType?: string): string | undefined {
  const bad = expectStatus(res, code);
  if (bad) return bad;
  const b = body(res);
  const schemas = attr(b, "schemas");
  if (!Array.isArray(schemas) || !schemas.includes(ERROR)) return `the ${code} body is not a SCIM Error (schemas does not name ${ERROR})`;
  if (String(attr(b, "status")) !== String(code)) return `error body's status is ${JSON.stringify(attr(b, "status"))}, expected "${code}"`;
  if (scimType !== undefined && attr(b, "scimType") !== scimType) return `scimType is ${JSON.stringify(attr(b, "scimType"))}, expected "${scimType}"`;
  return undefined;
}

/** id and schemas are returned "always" (RFC 7643 §3 and §7), whatever attributes= asks for. */
export function missingAlways(resource: unknown): string | undefined {
  const missing = ["id", "schemas"].filter((k) => !hasAttr(resource, k));
  return missing.length ? `the resource has no ${missing.join(" or ")} (returned "always")` : undefined;
}

export const q = (path: string, params: Record<string, string | number>) =>
  `${path}?${Object.entries(params)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join("&")}`;

/** Resources of a ListResponse. */
export function listed(res: StepResponse): Body[] {
  const r = attr(res.body, "Resources");
  return Array.isArray(r) ? (r as Body[]) : [];
}
