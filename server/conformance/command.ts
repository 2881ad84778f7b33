/** `scimbridge conformance`: option checking and the run, for cli.ts. */
import type { ConformanceAuth } from "./runner.js";
import { runSuites } from "./runner.js";
import { CLIENTS } from "./suites/index.js";
import type { ClientName } from "./types.js";

export interface ConformanceArgs {
  base?: string | undefined;
  token?: string | undefined;
  basic?: string | undefined;
  client?: string[] | undefined;
}

/** The usage problem with the options, if any (cli.ts turns it into exit code 2). */
export function conformanceUsageError(a: ConformanceArgs): string | undefined {
  if (!a.base) return "conformance needs --base URL (the SCIM base, e.g. https://host/scim/v2)";
  let url: URL;
  try {
    url = new URL(a.base);
  } catch {
    return `--base ${a.base} is not a URL`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return "--base must be an http or https URL";
  if ((a.token === undefined) === (a.basic === undefined)) return "conformance needs one of --token T or --basic user:pass";
  if (a.basic !== undefined && !a.basic.includes(":")) return "--basic takes user:pass";
  const unknown = (a.client ?? []).flatMap((c) => c.split(",")).filter((c) => !CLIENTS.includes(c as ClientName));
  if (unknown.length) return `unknown --client ${unknown.join(", ")} (one of ${CLIENTS.join(", ")})`;
  return undefined;
}

/** Runs the chosen suites (all by default); exit code 1 when any step failed. */
export async function conformance(a: ConformanceArgs, out: (line: string) => void): Promise<number> {
  const chosen = (a.client ?? []).flatMap((c) => c.split(","));
  const clients = chosen.length ? CLIENTS.filter((c) => chosen.includes(c)) : CLIENTS;
  const auth: ConformanceAuth = a.token !== undefined ? { token: a.token } : { basic: a.basic! };
  const { failed } = await runSuites(a.base!, auth, clients, out);
  return failed ? 1 : 0;
}
