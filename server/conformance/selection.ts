/** Which suites and steps a run includes (--client, --only, --skip). */
import type { ClientName } from "./types.js";

/** `checks`: the server tester's areas (server/conformance/checks); the rest replay one client each. */
export type SuiteName = ClientName | "checks";

export const SUITE_NAMES: readonly SuiteName[] = ["checks", "rfc", "pingfederate", "pingone", "entra", "okta"];

/** A pattern names an area (`filter`), a suite (`okta`) or a step id, exactly or as a prefix before a dot. */
function matches(pattern: string, id: string, area: string): boolean {
  return pattern === area || pattern === id || id.startsWith(`${pattern}.`);
}

export function selected(id: string, area: string, opts: { only?: string[] | undefined; skip?: string[] | undefined }): boolean {
  if (opts.only?.length && !opts.only.some((p) => matches(p, id, area))) return false;
  return !opts.skip?.some((p) => matches(p, id, area));
}
