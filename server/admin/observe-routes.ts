/**
 * Admin API for the traffic inspector and the audit log (issue 6), mounted under /admin/api next
 * to ./routes.ts with the same admin bearer tokens:
 *   GET /traffic?limit=&client=&status=   newest first
 *   GET /traffic/:requestId
 *   GET /audit?since=&kind=&type=&id=&order=&limit=
 *                                         JSON, or JSON lines with Accept: application/x-ndjson;
 *                                         type and id: one resource's rows; order=desc: newest first
 * Unknown paths fall through to the main admin router (its 404).
 */
import express, { type Request, type Response, type Router } from "express";
import type { Config } from "../config/schema.js";
import type { AuditKind, AuditLog } from "../observability/audit.js";
import type { TrafficInspector } from "../observability/traffic.js";
import { clientReport } from "../conformance/clients/report.js";
import type { FailureThrottle } from "../auth/throttle.js";
import { adminAuth } from "./routes.js";
import { kindOf } from "./status.js";

const NDJSON = "application/x-ndjson";

function bad(res: Response, detail: string): void {
  res.status(400).json({ error: { status: 400, detail } });
}

function one(req: Request, name: string): string | undefined | null {
  const raw = req.query[name];
  if (raw === undefined || raw === "") return undefined;
  return typeof raw === "string" ? raw : null;
}

function positiveInt(raw: string | undefined | null): number | undefined | null {
  if (raw === undefined) return undefined;
  return raw !== null && /^\d+$/.test(raw) && Number(raw) >= 1 ? Number(raw) : null;
}

export function observeRouter(o: { config: Config; traffic?: TrafficInspector | undefined; audit: AuditLog; throttle?: FailureThrottle | undefined }): Router {
  const r = express.Router();
  r.use(["/traffic", "/audit"], adminAuth(o.config.admin.tokens, o.throttle));

  r.get("/traffic", (req, res) => {
    if (!o.traffic) {
      res.json({ enabled: false, records: [] });
      return;
    }
    const limit = positiveInt(one(req, "limit"));
    const status = positiveInt(one(req, "status"));
    const client = one(req, "client");
    if (limit === null) return bad(res, "limit must be a positive integer");
    if (status === null) return bad(res, "status must be an HTTP status code");
    if (client === null) return bad(res, "client must be given once");
    res.json({ enabled: true, size: o.traffic.size, records: o.traffic.list({ limit, status, client }) });
  });

  // Per client, each request shape seen: RFC 7644 or a known dialect, and what was done with it.
  r.get("/traffic/conformance", (req, res) => {
    const since = one(req, "since");
    if (since === null || (since !== undefined && Number.isNaN(Date.parse(since)))) return bad(res, "since must be an ISO 8601 time");
    res.json({ enabled: Boolean(o.traffic), clients: o.traffic ? clientReport(o.traffic.list(), since) : [] });
  });

  r.get("/traffic/:requestId", (req, res) => {
    const record = o.traffic?.get(String(req.params.requestId));
    if (!record) {
      res.status(404).json({ error: { status: 404, detail: `no recorded request ${String(req.params.requestId)}` } });
      return;
    }
    res.json(record);
  });

  r.get("/audit", async (req, res) => {
    const since = one(req, "since");
    const kind = one(req, "kind");
    const limit = positiveInt(one(req, "limit"));
    const type = one(req, "type");
    const id = one(req, "id");
    const order = one(req, "order");
    if (since === null || (since !== undefined && Number.isNaN(Date.parse(since)))) return bad(res, "since must be an ISO 8601 time");
    if (kind === null || (kind !== undefined && kind !== "scim" && kind !== "ldap")) return bad(res, "kind must be scim or ldap");
    if (limit === null) return bad(res, "limit must be a positive integer");
    if (type === null || id === null) return bad(res, "type and id must be given once");
    const resourceType = type === undefined ? undefined : kindOf(type);
    if (type !== undefined && !resourceType) return bad(res, "type must be User or Group");
    if (order === null || (order !== undefined && order !== "asc" && order !== "desc")) return bad(res, "order must be asc or desc");
    // JSON lines are an export: everything unless limited; a JSON answer is one page (1000 by default).
    const ndjson = (req.headers.accept ?? "").toLowerCase().includes(NDJSON);
    const rows = o.audit.export({
      since: since === undefined ? undefined : new Date(since).toISOString(),
      kind: kind as AuditKind | undefined,
      resourceType,
      resourceId: id,
      order,
      limit: limit ?? (ndjson ? undefined : 1000),
    });
    if (ndjson) {
      res.type(NDJSON);
      for await (const row of rows) res.write(JSON.stringify(row) + "\n");
      res.end();
      return;
    }
    const records = [];
    for await (const row of rows) records.push(row);
    res.json({ records });
  });
  return r;
}
