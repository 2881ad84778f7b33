/**
 * `scimbridge conformance clients`: reads a running scimbridge's traffic inspector through the
 * admin API and prints, per client, each request shape seen, RFC or dialect, and the outcome.
 */
import { clientReport, formatClientReport } from "./report.js";
import type { Exchange } from "./classify.js";

export interface ClientsArgs {
  base?: string | undefined;
  token?: string | undefined;
  since?: string | undefined;
  json?: boolean | undefined;
}

export function clientsUsageError(a: ClientsArgs): string | undefined {
  if (!a.base) return "conformance clients needs --base URL (the scimbridge server, e.g. http://127.0.0.1:8080)";
  if (!URL.canParse(a.base)) return `--base ${a.base} is not a URL`;
  if (!a.token) return "conformance clients needs --token T (an admin token)";
  if (a.since !== undefined && Number.isNaN(Date.parse(a.since))) return "--since must be an ISO 8601 time";
  return undefined;
}

/** Exit 0 with the report; 2 when the server cannot be reached, refuses the token or records nothing. */
export async function conformanceClients(a: ClientsArgs, out: (line: string) => void, err: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<number> {
  const origin = new URL(a.base!).origin;
  let res: Response;
  try {
    res = await fetch(`${origin}/admin/api/traffic`, { headers: { Authorization: `Bearer ${a.token}` }, signal: AbortSignal.timeout(15_000) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause;
    err(`conformance clients: cannot reach ${origin}: ${cause?.code ?? (e as Error).message}`);
    return 2;
  }
  if (!res.ok) {
    err(`conformance clients: ${origin}/admin/api/traffic answered ${res.status}${res.status === 401 || res.status === 403 ? " (is --token an admin token?)" : ""}`);
    return 2;
  }
  const body = (await res.json()) as { enabled?: boolean; records?: Exchange[] };
  if (body.enabled === false) {
    err("conformance clients: the traffic inspector is off on that server (inspector.enabled: false)");
    return 2;
  }
  const reports = clientReport(body.records ?? [], a.since);
  if (a.json) for (const r of reports) out(JSON.stringify(r));
  else formatClientReport(reports).forEach((l) => out(l));
  return 0;
}
