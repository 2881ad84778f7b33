/**
 * Replays the pingone suite (server/conformance/suites/pingone.ts, each request with its source) against a
 * real scimbridge; the runner's output is the failure message.
 */
import { conformanceSuite } from "../helpers/conformance.js";

conformanceSuite("pingone", "PingOne SCIM Outbound");
