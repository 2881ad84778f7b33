/** The client conformance report over recorded traffic (pure): per client, each request shape seen. */
import { classify, type ClassifiedShape, type Exchange } from "./classify.js";

export interface ShapeSeen extends ClassifiedShape {
  count: number;
  /** One request that showed the shape (method and path). */
  example: string;
  lastSeen: string;
}

export interface ClientReport {
  client: string;
  userAgents: string[];
  requests: number;
  shapes: ShapeSeen[];
}

/** Groups recorded requests by client (token name and user agent) and de-duplicates shapes. */
export function clientReport(records: readonly Exchange[], since?: string): ClientReport[] {
  const from = since === undefined ? undefined : Date.parse(since);
  const byClient = new Map<string, { agents: Set<string>; requests: number; shapes: Map<string, ShapeSeen> }>();
  for (const x of [...records].sort((a, b) => a.time.localeCompare(b.time))) {
    if (from !== undefined && Date.parse(x.time) < from) continue;
    const name = [x.client, x.userAgent].filter(Boolean).join(" / ") || "unknown";
    const entry = byClient.get(name) ?? { agents: new Set<string>(), requests: 0, shapes: new Map<string, ShapeSeen>() };
    byClient.set(name, entry);
    entry.requests++;
    if (x.userAgent) entry.agents.add(x.userAgent);
    for (const s of classify(x)) {
      const key = `${s.shape}\u0000${s.outcome}`;
      const seen = entry.shapes.get(key);
      if (seen) {
        seen.count++;
        seen.lastSeen = x.time;
      } else entry.shapes.set(key, { ...s, count: 1, example: `${x.method} ${x.path}`, lastSeen: x.time });
    }
  }
  return [...byClient].map(([client, e]) => ({ client, userAgents: [...e.agents], requests: e.requests, shapes: [...e.shapes.values()] }));
}

/** The text form: one block per client, one line per shape. */
export function formatClientReport(reports: readonly ClientReport[]): string[] {
  if (!reports.length) return ["no recorded SCIM traffic (is the traffic inspector on, and has a client called?)"];
  return reports.flatMap((r) => [
    `${r.client}: ${r.requests} requests, ${r.shapes.length} shapes`,
    ...r.shapes.map((s) => `  ${s.accepted ? "ok     " : "REFUSED"} ${s.shape} ×${s.count}: ${s.standard ? "RFC 7644" : "not RFC as written"}; ${s.outcome}${s.detail ? ` (${s.detail})` : ""}  [${s.source}]`),
    "",
  ]);
}
