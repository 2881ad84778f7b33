/**
 * Replays the pingone suite (server/conformance/suites/pingone.ts, each request with its source) against a
 * real scimbridge; the runner's output is the failure message.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runClient, startScimbridge, type Started } from "../helpers/conformance.js";

let server: Started;
beforeAll(async () => {
  server = await startScimbridge();
});
afterAll(() => server.stop());

describe("PingOne SCIM Outbound conformance", () => {
  it("passes every step", async () => {
    const r = await runClient(server.url, "pingone");
    expect(r.failed, r.output).toBe(0);
    expect(r.passed).toBeGreaterThan(5);
  });
});
