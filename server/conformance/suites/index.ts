/** Every suite by client name, in the order `scimbridge conformance` runs them. */
import type { ClientName, Suite } from "../types.js";
import { entra } from "./entra.js";
import { okta } from "./okta.js";
import { pingfederate } from "./pingfederate.js";
import { pingone } from "./pingone.js";
import { rfc } from "./rfc.js";

export const suites: Record<ClientName, Suite> = { rfc, pingfederate, pingone, entra, okta };
export const CLIENTS = Object.keys(suites) as ClientName[];
