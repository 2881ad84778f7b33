/**
 * Replays the rfc suite (server/conformance/suites/rfc.ts, each request with its source) against a
 * real scimbridge; the runner's output is the failure message.
 */
import { conformanceSuite } from "../helpers/conformance.js";

conformanceSuite("rfc", "RFC 7643/7644 generic cases");
