/**
 * List and search parameters (RFC 7644 §3.4.2), from a query string or a SearchRequest body,
 * normalised into one shape. Pure.
 */
import { badRequest } from "../../schemas/errors.js";
import { DEFAULT_LIMITS, type ScimLimits } from "../../schemas/limits.js";

export interface ListParams {
  filter?: string | undefined;
  sortBy?: string | undefined;
  descending: boolean;
  /** 1-based (RFC 7644 §3.4.2.4). */
  startIndex: number;
  count: number;
  /**
   * Set (possibly empty) when the request asks for cursor paging (RFC 9865 §2): "" for the first
   * page, else a nextCursor or previousCursor this server issued. Undefined: index paging.
   */
  cursor?: string | undefined;
  attributes?: string[] | undefined;
  excludedAttributes?: string[] | undefined;
}

export interface PagingLimits {
  maxPageSize: number;
  defaultPageSize: number;
  /**
   * What a Group PATCH answers when the client asks for nothing in particular: 204 without a body
   * (minimal, the default) or 200 with the group (full). See routes.ts patchAnswer.
   */
  groupPatchResponse?: "minimal" | "full" | undefined;
  /** scim.limits (config); DEFAULT_LIMITS when absent. */
  limits?: ScimLimits | undefined;
}

/** RFC 7644 §3.9 lists past scim.limits.attributeNames are 400 invalidValue, naming the key. */
function boundedList(name: string, list: string[] | undefined, max: number): string[] | undefined {
  if (list && list.length > max) throw badRequest("invalidValue", `${name} names ${list.length} attributes; the limit is ${max} (scim.limits.attributeNames)`);
  return list;
}

/** attributes / excludedAttributes of a read, bounded. */
export function readAttributes(source: { attributes?: unknown; excludedAttributes?: unknown }, limits: PagingLimits): { attributes?: string[] | undefined; excludedAttributes?: string[] | undefined } {
  const max = (limits.limits ?? DEFAULT_LIMITS).attributeNames;
  return {
    attributes: boundedList("attributes", attributeList(source.attributes), max),
    excludedAttributes: boundedList("excludedAttributes", attributeList(source.excludedAttributes), max),
  };
}

/** Comma-separated attribute list (RFC 7644 §3.9), from a query string or a JSON array. */
export function attributeList(v: unknown): string[] | undefined {
  const parts = (Array.isArray(v) ? v : [v])
    .filter((x): x is string => typeof x === "string")
    .flatMap((s) => s.split(","))
    .map((s) => s.trim())
    .filter(Boolean);
  return parts.length ? parts : undefined;
}

function integer(name: string, v: unknown): number | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  const n = typeof v === "number" ? v : Number(String(v).trim());
  if (!Number.isFinite(n) || !Number.isInteger(n)) {
    throw badRequest("invalidValue", `${name} must be an integer, got ${JSON.stringify(v)}`);
  }
  // RFC 7644 §3.4.2.4 defines startIndex and count as integers without a bound; beyond 2^53 a
  // JavaScript number is no longer exact and beyond 2^63 SQLite's OFFSET/LIMIT overflow, so a
  // value outside the safe integers is refused rather than rounded (or answered with a 500).
  if (!Number.isSafeInteger(n)) {
    throw badRequest("invalidValue", `${name} must be an integer between ${Number.MIN_SAFE_INTEGER} and ${Number.MAX_SAFE_INTEGER}, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** Case-insensitive lookup of a parameter (RFC 7643 §2.1 names are case-insensitive). */
function pick(source: Record<string, unknown>, name: string): unknown {
  const key = Object.keys(source).find((k) => k.toLowerCase() === name.toLowerCase());
  const v = key === undefined ? undefined : source[key];
  // Express gives an array when a parameter repeats; the first one wins.
  return Array.isArray(v) && name !== "attributes" && name !== "excludedAttributes" ? v[0] : v;
}

/**
 * The cursor parameter (RFC 9865 §2): present, even empty (`?cursor`), means cursor paging. Its
 * value holds only RFC 3986 §2.3 unreserved characters; anything else cannot be one of ours.
 */
function cursorParam(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw badRequest("invalidCursor", "cursor must be a string (RFC 9865 §2)");
  const value = v.trim();
  if (!/^[A-Za-z0-9._~-]*$/.test(value)) throw badRequest("invalidCursor", "cursor holds characters no cursor of this server has; use the nextCursor or previousCursor of a previous response, or an empty cursor for the first page (RFC 9865 §2.1)");
  return value;
}

export function parseListParams(source: Record<string, unknown>, limits: PagingLimits): ListParams {
  const filter = pick(source, "filter");
  if (filter !== undefined && typeof filter !== "string") throw badRequest("invalidFilter", "filter must be a string");
  const maxFilter = (limits.limits ?? DEFAULT_LIMITS).filterLength;
  if (typeof filter === "string" && filter.length > maxFilter) {
    throw badRequest("invalidFilter", `filter longer than ${maxFilter} characters (${filter.length}; scim.limits.filterLength)`);
  }
  const sortBy = pick(source, "sortBy");
  const sortOrder = pick(source, "sortOrder");
  const startIndex = integer("startIndex", pick(source, "startIndex"));
  const requested = integer("count", pick(source, "count"));
  const cursor = cursorParam(pick(source, "cursor"));
  // RFC 9865 §2.4: each request names one method; both at once cannot be answered as either.
  if (cursor !== undefined && startIndex !== undefined) {
    throw badRequest("invalidValue", "startIndex (index paging) and cursor (cursor paging, RFC 9865) cannot be used together");
  }
  let count: number;
  if (requested === undefined) count = limits.defaultPageSize;
  // RFC 9865 §2 Table 1: with cursor paging "a negative value SHALL be interpreted as 0"; no
  // cursor client is known to mean the maximum by it (only PingFederate does, with index paging).
  else if (requested < 0 && cursor !== undefined) count = 0;
  // RFC 7644 §3.4.2.4 reads a negative count as 0, but PingFederate's "Results Per Page" of -1
  // means "the largest page size allowed by the target" (pf_scim_connector settings reference);
  // answering 0 would make it miss every group, so a negative count asks for the maximum.
  else if (requested < 0) count = limits.maxPageSize;
  else count = Math.min(requested, limits.maxPageSize);
  return {
    filter: typeof filter === "string" && filter.trim() !== "" ? filter : undefined,
    sortBy: typeof sortBy === "string" && sortBy.trim() !== "" ? sortBy.trim() : undefined,
    descending: typeof sortOrder === "string" && sortOrder.trim().toLowerCase() === "descending",
    // "A value less than 1 SHALL be interpreted as 1" (RFC 7644 §3.4.2.4).
    startIndex: Math.max(1, startIndex ?? 1),
    count,
    cursor,
    ...readAttributes({ attributes: pick(source, "attributes"), excludedAttributes: pick(source, "excludedAttributes") }, limits),
  };
}
