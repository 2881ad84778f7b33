/** The server tester's checks (server/conformance/checks) against a real scimbridge: no failure, no warning. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startScimbridge, TOKEN, type Started } from "../helpers/conformance.js";
import { formatRecord, runConformance, type StepRecord } from "../../server/conformance/runner.js";

let server: Started;
beforeAll(async () => {
  server = await startScimbridge();
});
afterAll(() => server.stop());

describe("conformance checks against scimbridge", () => {
  it("passes every check and leaves nothing behind", async () => {
    const records: StepRecord[] = [];
    const counts = await runConformance(server.url, { token: TOKEN }, ["checks"], (r) => records.push(r));
    const report = records.flatMap(formatRecord).join("\n");
    expect(counts.failed, report).toBe(0);
    expect(counts.warned, report).toBe(0);
    expect(counts.passed).toBeGreaterThan(40);
    const left = await fetch(`${server.url}/Users?filter=${encodeURIComponent('userName sw "chk-"')}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(((await left.json()) as { totalResults: number }).totalResults).toBe(0);
  }, 60_000);
});
