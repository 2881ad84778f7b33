/** The conformance runner's HTTP side: one request with the run's credentials, and what was created. */
import type { ConformanceAuth } from "./types.js";
import type { Http, StepRequest, StepResponse } from "./types.js";

export function authorization(auth: ConformanceAuth): string {
  return "token" in auth ? `Bearer ${auth.token}` : `Basic ${Buffer.from(auth.basic, "utf8").toString("base64")}`;
}

/** A resource the run created, deleted at the end of the run whatever happened. */
export interface Created {
  kind: "Users" | "Groups";
  id: string;
}

export interface RecordingHttp extends Http {
  /** Sent as User-Agent, so a traffic inspector tells the suites apart. */
  userAgent: string;
  /** The last request sent and its response (for a failure report). */
  last?: { req: StepRequest; res?: StepResponse };
  created: Created[];
}

export function createHttp(base: string, auth: ConformanceAuth, timeoutMs: number): RecordingHttp {
  const root = base.replace(/\/+$/, "");
  const http: RecordingHttp = {
    authorization: authorization(auth),
    userAgent: "scimbridge-conformance",
    created: [],
    async send(req) {
      http.last = { req };
      const res = await sendOnce(root, { ...req, headers: { "User-Agent": http.userAgent, ...req.headers } }, http.authorization, timeoutMs);
      http.last = { req, res };
      noteCreated(http.created, req, res);
      return res;
    },
  };
  return http;
}

function noteCreated(created: Created[], req: StepRequest, res: StepResponse): void {
  const kind = /^\/(Users|Groups)\/?$/.exec(req.path.split("?")[0] ?? "")?.[1];
  if (req.method !== "POST" || res.status !== 201 || kind === undefined) return;
  const id = (res.body as { id?: unknown } | undefined)?.id;
  if (typeof id === "string") created.push({ kind: kind as Created["kind"], id });
}

async function sendOnce(root: string, req: StepRequest, auth: string, timeoutMs: number): Promise<StepResponse> {
  const headers: Record<string, string> = { Accept: "application/scim+json, application/json", ...req.headers };
  if (!req.anonymous) headers.Authorization = req.authorization ?? auth;
  let body: string | Uint8Array | undefined;
  if (req.body !== undefined) {
    body = typeof req.body === "string" || req.body instanceof Uint8Array ? req.body : JSON.stringify(req.body);
    headers["Content-Type"] ??= "application/scim+json";
  }
  const res = await fetch(root + req.path, { method: req.method, headers, body, signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, text, body: parsed };
}

/** Deletes what the run created, groups first (ignoring answers: it may be gone already). */
export async function deleteCreated(http: RecordingHttp): Promise<void> {
  const order = [...http.created.filter((c) => c.kind === "Groups"), ...http.created.filter((c) => c.kind === "Users")];
  for (const c of order.reverse().sort((a, b) => (a.kind === b.kind ? 0 : a.kind === "Groups" ? -1 : 1))) {
    try {
      await http.send({ method: "DELETE", path: `/${c.kind}/${encodeURIComponent(c.id)}` });
    } catch {
      // unreachable now: nothing more to do
    }
  }
  http.created.length = 0;
}
