/**
 * Bounded work per request: how much one SCIM request may ask of the server. Each limit is a
 * `scim.limits.*` config key (README "Limits"), and each refusal names the key and the limit so a
 * client (or its operator) knows what to change. Statuses: RFC 7644 §3.12 — a filter over a
 * limit is 400 invalidFilter, a value over a limit 400 invalidValue; too many PATCH operations is
 * 413 Payload Too Large, as RFC 7644 §3.7.4 answers too many Bulk operations.
 */
import { badRequest, ScimError } from "./errors.js";

export interface ScimLimits {
  /** Operations in one PATCH request (RFC 7644 §3.5.2). */
  patchOperations: number;
  /** Characters in a filter (RFC 7644 §3.4.2.2), query string or SearchRequest. */
  filterLength: number;
  /** Nesting of parentheses, `not` and value paths in a filter. */
  filterDepth: number;
  /** Values of one multi-valued attribute (emails, phoneNumbers, ...; not Group members). */
  attributeValues: number;
  /** Characters in any one string value, unless attributeLength names the attribute. */
  stringLength: number;
  /** Per-attribute string length, by attribute path (`userName`, `name.givenName`, `emails.value`). */
  attributeLength: Record<string, number>;
  /** Names in `attributes` / `excludedAttributes` (RFC 7644 §3.9). */
  attributeNames: number;
  /** Nesting of arrays and objects in a request body (RFC 8259 §9 allows the limit). */
  jsonDepth: number;
  /**
   * Resources a list may sort by an attribute no index orders (RFC 7644 §3.4.2.3): SQLite sorts
   * them in one synchronous call, about 0.85 µs a resource on a 2-vCPU VM (12 ms at 10,000, 85 ms
   * at 100,000, measured with `?sortBy=title&count=10`), so 50,000 keeps a request near 45 ms.
   */
  sortResources: number;
}

/**
 * userName and displayName end up in DNs (RDN values): directories limit those far below a
 * free-text field (OpenLDAP answers a 5,000-character RDN with "other"; AD's cn is 64 characters,
 * https://learn.microsoft.com/en-us/windows/win32/adschema/a-cn). 256 keeps every real name.
 */
export const DEFAULT_LIMITS: ScimLimits = {
  patchOperations: 1000,
  filterLength: 4096,
  filterDepth: 64,
  attributeValues: 100,
  stringLength: 4096,
  attributeLength: { userName: 256, displayName: 256, externalId: 256, "name.givenName": 256, "name.familyName": 256, "emails.value": 320 },
  attributeNames: 100,
  jsonDepth: 64,
  sortResources: 50_000,
};

export const tooManyPatchOperations = (n: number, limit: number) =>
  new ScimError(413, undefined, `PATCH carries ${n} operations; the limit is ${limit} (scim.limits.patchOperations)`);

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** The limit for a path, compared case-insensitively (RFC 7643 §2.1). */
function lengthLimit(limits: ScimLimits, path: string): number {
  const lower = path.toLowerCase();
  for (const [k, v] of Object.entries(limits.attributeLength)) if (k.toLowerCase() === lower) return v;
  return limits.stringLength;
}

/**
 * Refuses a resource whose values exceed the limits: 400 invalidValue naming the attribute, its
 * size and the config key. `members` (a Group's, stored apart) is not counted here. Linear in the
 * size of the resource.
 */
export function checkValueLimits(attrs: Obj, limits: ScimLimits, password?: string): void {
  if (password !== undefined && password.length > limits.stringLength) {
    throw badRequest("invalidValue", `password is ${password.length} characters; the limit is ${limits.stringLength} (scim.limits.stringLength)`);
  }
  const walk = (v: unknown, path: string, inList: boolean): void => {
    if (typeof v === "string") {
      const max = lengthLimit(limits, path);
      if (v.length > max) {
        const key = max === limits.stringLength && !Object.keys(limits.attributeLength).some((k) => k.toLowerCase() === path.toLowerCase()) ? "scim.limits.stringLength" : `scim.limits.attributeLength.${path}`;
        throw badRequest("invalidValue", `${path} is ${v.length} characters; the limit is ${max} (${key})`);
      }
      return;
    }
    if (Array.isArray(v)) {
      if (!inList && v.length > limits.attributeValues) {
        throw badRequest("invalidValue", `${path} has ${v.length} values; the limit is ${limits.attributeValues} (scim.limits.attributeValues)`);
      }
      for (const x of v) walk(x, path, true);
      return;
    }
    if (isObject(v)) for (const [k, x] of Object.entries(v)) walk(x, path === "" ? k : `${path}.${k}`, false);
  };
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "members") continue;
    // An extension's attributes are named without their URN, as in the core schema.
    walk(v, k.startsWith("urn:") ? "" : k, false);
  }
}
