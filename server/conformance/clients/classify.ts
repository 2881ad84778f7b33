/**
 * Classifies one recorded SCIM request (pure): which request shapes it holds, whether each is
 * RFC 7644 as written or a known identity-provider dialect, and what the server did with it.
 */
import { SOURCES } from "./sources.js";

/** The fields of a traffic-inspector record the report reads. */
export interface Exchange {
  time: string;
  client?: string | undefined;
  userAgent?: string | undefined;
  method: string;
  path: string;
  status: number;
  requestBody: unknown;
  responseBody: unknown;
}

export interface Shape {
  /** e.g. `PATCH /Groups/{id} op=Remove path=members value=[…]`. */
  shape: string;
  /** RFC 7644 as written, or a known dialect (name and vendor). */
  standard: boolean;
  dialect?: string;
  /** The RFC section or vendor document the shape comes from. */
  source: string;
}

export interface ClassifiedShape extends Shape {
  /** "accepted as RFC", "accepted as dialect …" or "refused: <status> <scimType>". */
  outcome: string;
  accepted: boolean;
  /** The error body's detail, when refused. */
  detail?: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);
const get = (o: unknown, name: string): unknown => (isObj(o) ? o[Object.keys(o).find((k) => k.toLowerCase() === name.toLowerCase()) ?? name] : undefined);

const rfc = (shape: string, source: string): Shape => ({ shape, standard: true, source });
const dialect = (shape: string, name: string, source: string, standard = false): Shape => ({ shape, standard, dialect: name, source });

/** `/Users/abc?x` → { resource: "Users", id: true, query }. */
function route(path: string): { resource: string; byId: boolean; query: URLSearchParams } {
  const [p = "", q = ""] = path.split("?");
  const parts = p.split("/").filter(Boolean);
  const at = parts.findIndex((s) => /^(Users|Groups|Bulk|Schemas|ResourceTypes|ServiceProviderConfig)$/i.test(s));
  const resource = at < 0 ? (parts.at(-1) ?? "") : parts[at]!;
  return { resource, byId: at >= 0 && parts.length > at + 1, query: new URLSearchParams(q) };
}

const STRING_BOOLEAN = /^(true|false)$/i;

function hasStringBoolean(v: unknown): boolean {
  if (typeof v === "string") return STRING_BOOLEAN.test(v);
  if (Array.isArray(v)) return v.some(hasStringBoolean);
  return isObj(v) && Object.values(v).some(hasStringBoolean);
}

/** A path with values blanked: `members[value eq "…"]`. */
const pathShape = (p: string) => p.replace(/"(?:[^"\\]|\\.)*"/g, '"…"');

/** One PatchOp operation (RFC 7644 §3.5.2) against the dialects of §5 of idp-traffic.md. */
export function classifyOperation(resource: string, op: unknown): Shape {
  const name = String(get(op, "op") ?? "");
  const path = get(op, "path");
  const value = get(op, "value");
  const valueShape = Array.isArray(value) ? "[…]" : isObj(value) ? `{${Object.keys(value).join(",")}}` : typeof value === "string" ? "string" : JSON.stringify(value) ?? "none";
  const shape = `PATCH /${resource}/{id} op=${name}${typeof path === "string" ? ` path=${pathShape(path)}` : " (no path)"} value=${valueShape}`;
  if (typeof value === "string" && STRING_BOOLEAN.test(value)) return dialect(shape, 'Entra: booleans as strings ("True"/"False")', SOURCES.entraCompat);
  if (name.toLowerCase() === "remove" && typeof path === "string" && path.toLowerCase() === "members" && Array.isArray(value)) return dialect(shape, "Entra: members removal with a value list", SOURCES.entraTutorial);
  if (!["add", "remove", "replace"].includes(name)) {
    if (["add", "remove", "replace"].includes(name.toLowerCase())) return dialect(shape, `Entra: capitalised op "${name}"`, SOURCES.entraCompat);
    return { shape, standard: false, source: SOURCES.rfcPatch };
  }
  if (path === undefined && isObj(value)) {
    if (Object.keys(value).some((k) => k.includes(".") || k.startsWith("urn:"))) return dialect(shape, "Entra: path-less replace with dotted or URN keys (aadOptscim062020)", SOURCES.entraCompat);
    if (name === "replace") return dialect(shape, "Okta: path-less replace", SOURCES.okta, true);
  }
  if (Array.isArray(value) && value.some((m) => isObj(m) && "$ref" in m && m.$ref === null)) return dialect(shape, 'Entra: members with "$ref": null', SOURCES.entraTutorial, true);
  return rfc(shape, name === "replace" ? SOURCES.rfcPatchReplace : SOURCES.rfcPatch);
}

/** A GET's filter (RFC 7644 §3.4.2.2) against the lookup dialects. */
function classifyFilter(resource: string, filter: string): Shape {
  const m = /^\s*(\S+)\s+(\S+)\s*(.*)$/.exec(filter);
  const [attr = "", op = "", value = ""] = m ? [m[1], m[2], m[3]] : [];
  const quoted = value.startsWith('"');
  const literal = /^(true|false|null|-?\d+(\.\d+)?)$/.test(value);
  const shape = `GET /${resource}?filter=${attr} ${op}${value ? (quoted ? ' "…"' : literal ? ` ${value}` : " …(unquoted)") : ""}${/\b(and|or)\b/i.test(value) ? " (compound)" : ""}`;
  if (value && !quoted && !literal && !/[[(]/.test(filter)) return dialect(shape, "Entra: unquoted filter value (externalId eq jyoung)", SOURCES.entraTutorial);
  if (attr.toLowerCase() === "emails" && op.toLowerCase() === "eq") return dialect(shape, "PingFederate: emails eq without a sub-attribute", SOURCES.pingfederateSettings);
  if (op !== op.toLowerCase() || attr === "username") return dialect(shape, 'PingOne: default filter "username Eq" (case-insensitive per RFC)', SOURCES.pingoneFilters, true);
  return rfc(shape, SOURCES.rfcFilter);
}

/** The request shapes one recorded request holds (several for a PATCH with several operations). */
export function shapesOf(x: Exchange): Shape[] {
  const { resource, byId, query } = route(x.path);
  const method = x.method.toUpperCase();
  const body = x.requestBody;
  if (method === "GET") {
    const filter = query.get("filter");
    if (filter !== null) return [classifyFilter(resource, filter)];
    const excluded = query.get("excludedAttributes");
    const shape = `GET /${resource}${byId ? "/{id}" : ""}${excluded ? `?excludedAttributes=${excluded}` : query.has("startIndex") || query.has("count") ? "?startIndex&count" : ""}`;
    if (excluded?.toLowerCase() === "members") return [dialect(shape, "Entra: excludedAttributes=members", SOURCES.entraTutorial, true)];
    return [rfc(shape, /Schemas|ResourceTypes|ServiceProviderConfig/i.test(resource) ? SOURCES.rfcDiscovery : SOURCES.rfcQuery)];
  }
  if (method === "PATCH") {
    const ops = get(body, "Operations");
    return Array.isArray(ops) && ops.length ? ops.map((op) => classifyOperation(resource, op)) : [{ shape: `PATCH /${resource}/{id} (no Operations)`, standard: false, source: SOURCES.rfcPatch }];
  }
  if (method === "POST" || method === "PUT") {
    const shape = `${method} /${resource}${byId ? "/{id}" : ""}`;
    const schemas = get(body, "schemas");
    if (hasStringBoolean(body)) return [dialect(`${shape} with string booleans`, 'Entra: booleans as strings ("True"/"False")', SOURCES.entraCompat)];
    if (Array.isArray(schemas) && schemas.some((s) => String(s).includes("ADSCIM"))) return [dialect(`${shape} with the ADSCIM Group URN`, "Entra: non-standard ADSCIM group schema URN", SOURCES.entraTutorial)];
    if (method === "PUT") return [dialect(`${shape} (whole resource)`, `PingFederate: updates by PUT of the whole resource${resource === "Groups" ? " (full members list)" : ""}; also PingOne and Okta AIW apps`, SOURCES.pingfederate, true)];
    return [rfc(shape, resource === "Bulk" ? SOURCES.rfcBulk : SOURCES.rfcCreate)];
  }
  return [rfc(`${method} /${resource}${byId ? "/{id}" : ""}`, method === "DELETE" ? SOURCES.rfcDelete : SOURCES.rfcQuery)];
}

/** What the server did: accepted (2xx, and 404 on a lookup by id), or refused with its reason. */
export function outcomeOf(shape: Shape, x: Exchange): { outcome: string; accepted: boolean; detail?: string } {
  if (x.status < 400 || (x.status === 404 && x.method.toUpperCase() === "GET")) {
    return { outcome: shape.standard ? (shape.dialect ? `accepted as RFC (${shape.dialect})` : "accepted as RFC") : shape.dialect ? `accepted as dialect ${shape.dialect}` : "accepted (not RFC as written)", accepted: true };
  }
  const scimType = get(x.responseBody, "scimType");
  const detail = get(x.responseBody, "detail");
  return { outcome: `refused: ${x.status}${scimType ? ` ${String(scimType)}` : ""}`, accepted: false, ...(detail ? { detail: String(detail) } : {}) };
}

export function classify(x: Exchange): ClassifiedShape[] {
  return shapesOf(x).map((s) => ({ ...s, ...outcomeOf(s, x) }));
}
