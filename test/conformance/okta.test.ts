/**
 * Replays the okta suite (server/conformance/suites/okta.ts, each request with its source) against a
 * real scimbridge; the runner's output is the failure message.
 */
import { conformanceSuite } from "../helpers/conformance.js";

conformanceSuite("okta", "Okta");
