/**
 * Bulk operations (RFC 7644 §3.7): a BulkRequest in, a BulkResponse out, no request or response
 * objects in sight. Each operation is its own service call and so its own transaction: a bulk
 * request is not atomic (§3.7 "The service provider MUST continue performing as many changes as
 * possible and disregard partial failures"), and every committed operation writes its own outbox row.
 */
import { badRequest, ScimError } from "../../schemas/errors.js";
import { FilterError } from "../../schemas/filter/ast.js";
import type { ResourceKind } from "../../schemas/registry.js";
import { databaseBusyError } from "../http/database-busy.js";
import { normalizePath } from "../http/normalize-path.js";
import { errorBody } from "../http/scim-response.js";
import { locationOf } from "../../schemas/render.js";
import type { RequestContext, ResourceService } from "./service.js";

export const BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
export const BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

export interface BulkLimits {
  /** §3.7.4: most operations one request may carry. */
  maxOperations: number;
  /** §3.7.4: largest request payload in bytes (already the smaller of this and the body-parser limit). */
  maxPayloadSize: number;
}

export interface BulkOperationResponse {
  method: string;
  bulkId?: string;
  location?: string;
  version?: string;
  /** §3.7: the HTTP status code of the operation, as a string. */
  status: string;
  /** §3.7: a SCIM Error (§3.12) for a failed operation; omitted on success (the RFC allows that). */
  response?: Record<string, unknown>;
}

export interface BulkResponse {
  schemas: [typeof BULK_RESPONSE];
  Operations: BulkOperationResponse[];
}

export interface BulkHooks {
  /** An operation failed with something that is not a ScimError (a bug or a database fault). */
  onUnexpected?: (err: unknown, operationIndex: number) => void;
}

type Method = "POST" | "PUT" | "PATCH" | "DELETE";

interface ParsedOp {
  index: number;
  /** As echoed in the response: upper-cased when valid, else what the client sent. */
  method: string;
  bulkId?: string | undefined;
  /** Set when the operation is malformed; it then fails without running. */
  error?: ScimError;
  valid?: { method: Method; kind: ResourceKind; id?: string | undefined; version?: string | undefined; data: unknown };
  /** bulkIds this operation references (in `path` and anywhere in `data`), §3.7.2. */
  refs: Set<string>;
}

const BULK_REF = /^bulkId:(.+)$/;
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** Every `bulkId:<id>` string value in a JSON value, at any depth (§3.7.2: e.g. members[].value). */
function collectRefs(v: unknown, out: Set<string>): void {
  if (typeof v === "string") {
    const m = BULK_REF.exec(v);
    if (m) out.add(m[1]!);
  } else if (Array.isArray(v)) {
    for (const x of v) collectRefs(x, out);
  } else if (isObject(v)) {
    for (const x of Object.values(v)) collectRefs(x, out);
  }
}

/** A copy of `v` with each `bulkId:<id>` string replaced by the id it was resolved to. */
function substitute(v: unknown, ids: Map<string, string>): unknown {
  if (typeof v === "string") {
    const m = BULK_REF.exec(v);
    return m ? (ids.get(m[1]!) ?? v) : v;
  }
  if (Array.isArray(v)) return v.map((x) => substitute(x, ids));
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substitute(x, ids)]));
  return v;
}

/** §3.7: `path` is a resource endpoint for POST and a resource for PUT, PATCH and DELETE. */
function parsePath(path: unknown, method: Method): { kind: ResourceKind; id?: string } {
  if (typeof path !== "string") throw badRequest("invalidValue", "operation has no `path`");
  const m = /^\/(Users|Groups)(?:\/([^/]+))?$/.exec(normalizePath(path));
  if (!m) throw badRequest("invalidValue", `unsupported operation path ${JSON.stringify(path)}: expected /Users, /Groups, /Users/{id} or /Groups/{id}`);
  const kind: ResourceKind = m[1] === "Users" ? "User" : "Group";
  const id = m[2] === undefined ? undefined : decodeURIComponent(m[2]);
  if (method === "POST" && id !== undefined) throw badRequest("invalidValue", `POST needs a resource endpoint (/${m[1]}), not ${path}`);
  if (method !== "POST" && id === undefined) throw badRequest("invalidValue", `${method} needs a resource path (/${m[1]}/{id})`);
  return id === undefined ? { kind } : { kind, id };
}

function parseOp(raw: unknown, index: number): ParsedOp {
  const refs = new Set<string>();
  if (!isObject(raw)) return { index, method: "", refs, error: badRequest("invalidSyntax", "each operation must be a JSON object") };
  const given = typeof raw.method === "string" ? raw.method : "";
  const bulkId = typeof raw.bulkId === "string" ? raw.bulkId : undefined;
  const op: ParsedOp = { index, method: given, bulkId, refs };
  try {
    const method = given.toUpperCase();
    if (method !== "POST" && method !== "PUT" && method !== "PATCH" && method !== "DELETE") {
      throw badRequest("invalidValue", `unsupported operation method ${JSON.stringify(raw.method)}: expected POST, PUT, PATCH or DELETE`);
    }
    op.method = method;
    if (raw.bulkId !== undefined && (bulkId === undefined || bulkId === "")) throw badRequest("invalidValue", "`bulkId` must be a non-empty string");
    // §3.7: bulkId is "REQUIRED when "method" is "POST"".
    if (method === "POST" && bulkId === undefined) throw badRequest("invalidValue", "a POST operation needs a `bulkId`");
    if (raw.version !== undefined && typeof raw.version !== "string") throw badRequest("invalidValue", "`version` must be a string");
    const { kind, id } = parsePath(raw.path, method);
    if (method !== "DELETE" && !isObject(raw.data)) throw badRequest("invalidSyntax", `a ${method} operation needs a \`data\` object`);
    if (id !== undefined) collectRefs(id, refs);
    if (method !== "DELETE") collectRefs(raw.data, refs);
    op.valid = { method, kind, id, version: raw.version as string | undefined, data: raw.data };
  } catch (e) {
    if (!(e instanceof ScimError)) throw e;
    op.error = e;
  }
  return op;
}

/** The whole-request checks: §3.7.4 limits (413) and the BulkRequest message shape (400). */
function checkRequest(body: unknown, limits: BulkLimits): { operations: unknown[]; failOnErrors: number | undefined } {
  // The re-serialised size is a lower bound of what was sent (whitespace is gone); the route has
  // already compared Content-Length, which is exact when present.
  const size = Buffer.byteLength(JSON.stringify(body ?? null));
  if (size > limits.maxPayloadSize) {
    // §3.7.4: 413 and "The returned response MUST specify the limit exceeded"; the RFC's example
    // carries no scimType (Table 9's tooMany is a 400 for filters), so none here either.
    throw new ScimError(413, undefined, `The size of the bulk operation exceeds the maxPayloadSize (${limits.maxPayloadSize}).`);
  }
  if (!isObject(body)) throw badRequest("invalidSyntax", "a BulkRequest must be a JSON object");
  if (!Array.isArray(body.schemas) || !body.schemas.includes(BULK_REQUEST)) {
    throw badRequest("invalidSyntax", `a BulkRequest must list ${BULK_REQUEST} in \`schemas\``);
  }
  if (!Array.isArray(body.Operations)) throw badRequest("invalidSyntax", "a BulkRequest needs an `Operations` array");
  if (body.Operations.length > limits.maxOperations) {
    throw new ScimError(413, undefined, `The number of operations (${body.Operations.length}) exceeds the maxOperations (${limits.maxOperations}).`);
  }
  const f = body.failOnErrors;
  if (f !== undefined && (typeof f !== "number" || !Number.isInteger(f) || f < 1)) {
    throw badRequest("invalidValue", "`failOnErrors` must be an integer of at least 1");
  }
  return { operations: body.Operations, failOnErrors: f as number | undefined };
}

/**
 * Runs a BulkRequest (RFC 7644 §3.7) against the service and returns the BulkResponse. Throws a
 * ScimError only for the request as a whole (413 limits, 400 malformed message).
 */
/**
 * How long the operations of one request run before yielding to the event loop: a Bulk request of
 * maxOperations writes (each its own transaction, §3.7) would otherwise hold every other client,
 * and /healthz, for as long as all of them take.
 */
const BULK_SLICE_MS = 20;

export async function runBulk(service: ResourceService, body: unknown, ctx: RequestContext, limits: BulkLimits, hooks: BulkHooks = {}): Promise<BulkResponse> {
  const { operations, failOnErrors } = checkRequest(body, limits);
  const ops = operations.map(parseOp);

  // §3.7.2: a bulkId names the resource a POST creates. A repeated bulkId would make references
  // ambiguous; the first one wins and the later ones fail.
  const definer = new Map<string, ParsedOp>();
  for (const op of ops) {
    if (op.valid?.method !== "POST" || op.bulkId === undefined) continue;
    if (definer.has(op.bulkId)) op.error = badRequest("invalidValue", `bulkId ${JSON.stringify(op.bulkId)} is used by an earlier operation`);
    else definer.set(op.bulkId, op);
  }

  const resolved = new Map<string, string>();
  const results = new Map<number, BulkOperationResponse>();
  const circular = new Set<number>();
  const stack: number[] = [];
  let errors = 0;
  // §3.7.3: failOnErrors is "the number of errors that the service provider will accept before the
  // operation is terminated"; once reached, nothing more runs and only processed operations return.
  const stopped = () => failOnErrors !== undefined && errors >= failOnErrors;

  const record = (op: ParsedOp, r: BulkOperationResponse) => {
    results.set(op.index, r);
    if (Number(r.status) >= 400) errors++;
  };
  const fail = (op: ParsedOp, e: ScimError, location?: string) => {
    const r: BulkOperationResponse = { method: op.method, status: String(e.status) };
    if (op.bulkId !== undefined) r.bulkId = op.bulkId;
    // §3.7: location is "REQUIRED in a response, except in the event of a POST failure".
    if (location !== undefined) r.location = location;
    r.response = errorBody(e.status, e.detail, e.scimType);
    record(op, r);
  };

  const execute = async (op: ParsedOp): Promise<void> => {
    if (results.has(op.index) || stopped()) return;
    if (op.error || !op.valid) return fail(op, op.error ?? badRequest("invalidSyntax", "malformed operation"));
    stack.push(op.index);
    try {
      // §3.7.2: "the service provider MUST try to resolve" references to operations that come
      // later in the request, so a referenced POST runs first (dependency order, depth first).
      for (const ref of op.refs) {
        const dep = definer.get(ref);
        if (resolved.has(ref) || !dep || results.has(dep.index)) continue;
        const at = stack.indexOf(dep.index);
        if (at !== -1) {
          // §3.7.1: a circular reference. The RFC lets the provider "stop after a failed attempt
          // and instead return HTTP status code 409 (Conflict)"; every operation on the cycle does.
          for (const i of stack.slice(at)) circular.add(i);
          continue;
        }
        await execute(dep);
        if (stopped()) return;
      }
      if (results.has(op.index)) return; // already failed as part of a cycle found deeper down
      if (circular.has(op.index)) {
        const cycle = [...op.refs].filter((r) => !resolved.has(r) && circular.has(definer.get(r)?.index ?? -1));
        return fail(op, new ScimError(409, undefined, `circular bulkId reference (${cycle.map((c) => `bulkId:${c}`).join(", ")}) cannot be resolved`));
      }
      const missing = [...op.refs].filter((r) => !resolved.has(r));
      if (missing.length) {
        const why = (r: string) => (definer.has(r) ? `bulkId:${r} (its operation failed)` : `bulkId:${r} (no POST operation has that bulkId)`);
        return fail(op, badRequest("invalidValue", `unresolved reference ${missing.map(why).join(", ")}`));
      }
      await run(op);
    } finally {
      stack.pop();
    }
  };

  // An operation's response holds status, location and version, never the resource (RFC 7644
  // §3.7.3), so nothing is rendered: a group's members are never loaded for nothing.
  const quiet: RequestContext = { ...ctx, read: "none" };
  const run = async (op: ParsedOp): Promise<void> => {
    const v = op.valid!;
    const id = v.id === undefined ? undefined : (substitute(v.id, resolved) as string);
    const location = id === undefined ? undefined : locationOf(ctx, v.kind, id);
    const data = substitute(v.data, resolved);
    try {
      const base: BulkOperationResponse = { method: op.method, status: "" };
      if (op.bulkId !== undefined) base.bulkId = op.bulkId;
      // §3.7: `version` is the operation's If-Match (RFC 7232 §3.1); a mismatch is 412 in that operation.
      if (v.method === "POST") {
        const w = await service.create(v.kind, data, quiet);
        const newId = w.id;
        if (op.bulkId !== undefined) resolved.set(op.bulkId, newId);
        record(op, { ...base, location: locationOf(ctx, v.kind, newId), version: w.etag, status: "201" });
      } else if (v.method === "PUT") {
        const w = await service.replace(v.kind, id!, data, quiet, v.version);
        record(op, { ...base, location, version: w.etag, status: "200" });
      } else if (v.method === "PATCH") {
        const w = await service.patch(v.kind, id!, data, quiet, v.version);
        record(op, { ...base, location, version: w.etag, status: "200" });
      } else {
        await service.remove(v.kind, id!, quiet, v.version);
        record(op, { ...base, location, status: "204" });
      }
    } catch (e) {
      if (e instanceof ScimError) return fail(op, e, location);
      if (e instanceof FilterError) return fail(op, badRequest("invalidFilter", e.message), location);
      // A busy database is this operation's 503 (RFC 7644 §3.7.3: per-operation status), not a 500.
      const busy = databaseBusyError(e);
      if (busy) return fail(op, busy, location);
      // One operation's fault must not hide what the others did (they are committed): report a
      // generic 500 in this operation and let the caller log the cause.
      hooks.onUnexpected?.(e, op.index);
      fail(op, new ScimError(500, undefined, `internal server error in operation ${op.index}`), location);
    }
  };

  let sliceStart = performance.now();
  for (const op of ops) {
    if (stopped()) break;
    await execute(op);
    if (performance.now() - sliceStart > BULK_SLICE_MS) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }
  const out = [...results.entries()].sort(([a], [b]) => a - b).map(([, r]) => r);
  return { schemas: [BULK_RESPONSE], Operations: out };
}
