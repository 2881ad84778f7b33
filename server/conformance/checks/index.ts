/** The server tester's checks by area, in the order they run. */
import type { Check } from "../types.js";
import { authChecks } from "./auth.js";
import { concurrencyChecks } from "./concurrency.js";
import { errorChecks } from "./errors.js";
import { etagBulkChecks } from "./etag-bulk.js";
import { membershipChecks, patchChecks } from "./patch.js";
import { queryChecks } from "./query.js";
import { resourceChecks } from "./resources.js";

export const checks: Check[] = [...authChecks, ...resourceChecks, ...patchChecks, ...membershipChecks, ...queryChecks, ...etagBulkChecks, ...errorChecks, ...concurrencyChecks];
