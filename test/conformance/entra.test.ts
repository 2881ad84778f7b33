/**
 * Replays the entra suite (server/conformance/suites/entra.ts, each request with its source) against a
 * real scimbridge; the runner's output is the failure message.
 */
import { conformanceSuite } from "../helpers/conformance.js";

conformanceSuite("entra", "Microsoft Entra ID");
