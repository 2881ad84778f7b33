/**
 * Replays the pingfederate suite (server/conformance/suites/pingfederate.ts, each request with its source) against a
 * real scimbridge; the runner's output is the failure message.
 */
import { conformanceSuite } from "../helpers/conformance.js";

conformanceSuite("pingfederate", "PingFederate SCIM Provisioner");
