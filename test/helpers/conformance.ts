/** A real scimbridge (startServer) on a temp SQLite file, and a conformance suite run against it. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../server/config/load.js";
import { startServer, type Running } from "../../server/serve.js";
import { runSuites } from "../../server/conformance/runner.js";
import type { ClientName } from "../../server/conformance/types.js";

export const TOKEN = "conformance-test-token-0123456789";

export interface Started {
  url: string;
  running: Running;
  stop(): Promise<void>;
}

export async function startScimbridge(): Promise<Started> {
  const dir = mkdtempSync(join(tmpdir(), "scimbridge-conformance-"));
  const config = parseConfig(
    { server: { port: 0 }, storage: { file: join(dir, "scim.db") }, embeddedDirectory: { enabled: false }, logging: { level: "silent" } },
    {},
  );
  // startServer prints its banner on stdout; keep the test output to the suite's lines.
  const write = process.stdout.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  let running: Running;
  try {
    running = await startServer(config, { env: { SCIM_TOKEN: TOKEN }, handleSignals: false });
  } finally {
    process.stdout.write = write;
  }
  return {
    url: running.url,
    running,
    async stop() {
      await running.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs one client's suite; the printed lines come back for the assertion message. */
export async function runClient(url: string, client: ClientName): Promise<{ passed: number; failed: number; warned: number; output: string }> {
  const lines: string[] = [];
  const result = await runSuites(url, { token: TOKEN }, [client], (line) => lines.push(line));
  return { ...result, output: lines.join("\n") };
}

/**
 * Registers one client's conformance suite against a real scimbridge started for the file; the
 * runner's output (each failing request and response) is the assertion message.
 */
export function conformanceSuite(client: ClientName, title: string): void {
  let server: Started;
  beforeAll(async () => {
    server = await startScimbridge();
  });
  afterAll(() => server.stop());

  describe(`${title} conformance`, () => {
    it("passes every step", async () => {
      const r = await runClient(server.url, client);
      // A client suite's misses are warnings (IdP expectations): scimbridge must meet them all.
      expect(r.failed + r.warned, r.output).toBe(0);
      expect(r.passed).toBeGreaterThan(5);
    });
  });
}
