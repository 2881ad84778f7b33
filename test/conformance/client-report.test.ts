/**
 * The client report over recorded traffic: the PingFederate, PingOne, Entra and Okta suites
 * (server/conformance/suites, each a replay of docs/research/idp-traffic.md) are sent to a real
 * scimbridge; its traffic inspector records them and the report classifies each shape.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../server/config/load.js";
import { startServer, type Running } from "../../server/serve.js";
import { runConformance } from "../../server/conformance/runner.js";
import { classify } from "../../server/conformance/clients/classify.js";
import type { ClientReport } from "../../server/conformance/clients/report.js";
import { ROOT } from "../helpers/cli.js";

const TOKEN = "client-report-scim-token-0123456789";
const ADMIN = "client-report-admin-token-0123456789";
const dir = mkdtempSync(join(tmpdir(), "scimbridge-client-report-"));
let running: Running;
let origin: string;
let reports: ClientReport[];

beforeAll(async () => {
  const config = parseConfig(
    { server: { port: 0 }, storage: { file: join(dir, "scim.db") }, embeddedDirectory: { enabled: false }, logging: { level: "silent" }, inspector: { enabled: true, size: 1000 }, admin: { tokens: [{ name: "ops", token: ADMIN }] } },
    {},
  );
  const write = process.stdout.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    running = await startServer(config, { env: { SCIM_TOKEN: TOKEN }, handleSignals: false });
  } finally {
    process.stdout.write = write;
  }
  origin = new URL(running.url).origin;
  await runConformance(running.url, { token: TOKEN }, ["pingfederate", "pingone", "entra", "okta"], () => undefined);
  const res = await fetch(`${origin}/admin/api/traffic/conformance`, { headers: { Authorization: `Bearer ${ADMIN}` } });
  reports = ((await res.json()) as { clients: ClientReport[] }).clients;
}, 60_000);
afterAll(async () => {
  await running?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const of = (suite: string) => {
  // The okta suite sends Okta's own User-Agent, as Okta does; the others name their suite.
  const r = reports.find((c) => c.userAgents.some((ua) => ua === `scimbridge-conformance (${suite})` || (suite === "okta" && ua.startsWith("Okta SCIM Client"))));
  if (!r) throw new Error(`no report for ${suite}: ${reports.map((c) => c.client).join(", ")}`);
  return r;
};
const dialects = (suite: string) => of(suite).shapes.filter((s) => s.dialect);

describe("conformance clients report", () => {
  it.each([
    ["entra", 'Entra: capitalised op "Replace"', false, "entraCompat"],
    ["entra", 'Entra: booleans as strings ("True"/"False")', false, "entraCompat"],
    ["entra", "Entra: members removal with a value list", false, "entraTutorial"],
    ["entra", "Entra: path-less replace with dotted or URN keys (aadOptscim062020)", false, "entraCompat"],
    ["entra", "Entra: unquoted filter value (externalId eq jyoung)", false, "entraTutorial"],
    ["okta", "Okta: path-less replace", true, "okta"],
    ["pingfederate", "PingFederate: updates by PUT of the whole resource", true, "pingfederate"],
    ["pingfederate", "PingFederate: emails eq without a sub-attribute", false, "pingfederateSettings"],
    ["pingone", 'PingOne: default filter "username Eq" (case-insensitive per RFC)', true, "pingoneFilters"],
  ])("%s: %s, accepted, labelled with its source", async (suite, name, standard) => {
    const shape = dialects(suite).find((s) => s.dialect?.startsWith(name));
    expect(shape, JSON.stringify(dialects(suite), null, 1)).toBeDefined();
    expect(shape!.standard).toBe(standard);
    expect(shape!.accepted).toBe(true);
    expect(shape!.outcome).toBe(standard ? `accepted as RFC (${shape!.dialect})` : `accepted as dialect ${shape!.dialect}`);
    expect(shape!.source).toMatch(/^https:\/\/(learn\.microsoft\.com|developer\.okta\.com|docs\.pingidentity\.com)\//);
  });

  it("plain RFC shapes are labelled with their RFC 7644 section", () => {
    const rfcShapes = of("okta").shapes.filter((s) => !s.dialect);
    expect(rfcShapes.length).toBeGreaterThan(3);
    for (const s of rfcShapes) expect(s.source).toMatch(/^https:\/\/datatracker\.ietf\.org\/doc\/html\/rfc7644#section-/);
    expect(of("okta").shapes.map((s) => s.shape)).toContain("POST /Users");
  });

  it("a refused request says why", () => {
    const [shape] = classify({ time: "2026-01-01T00:00:00Z", method: "PATCH", path: "/scim/v2/Users/1", status: 400, requestBody: { Operations: [{ op: "Replace", path: "active", value: "False" }] }, responseBody: { scimType: "invalidValue", detail: "expected boolean" } });
    expect(shape).toMatchObject({ standard: false, accepted: false, outcome: "refused: 400 invalidValue", detail: "expected boolean", dialect: 'Entra: booleans as strings ("True"/"False")' });
  });

  it("scimbridge conformance clients --json prints one record per client", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "server", "cli.ts"), "conformance", "clients", "--base", origin, "--token", ADMIN, "--json", "--since", "2000-01-01T00:00:00Z"], { cwd: ROOT });
    let stdout = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code).toBe(0);
    const lines = stdout.trim().split("\n").map((l) => JSON.parse(l) as ClientReport);
    const agents = lines.flatMap((l) => l.userAgents);
    for (const ua of ["entra", "pingfederate", "pingone"].map((s) => `scimbridge-conformance (${s})`)) expect(agents).toContain(ua);
    expect(agents).toContain("Okta SCIM Client 1.0.0");
    for (const l of lines) expect(l.shapes.every((s) => s.source.startsWith("https://"))).toBe(true);
  }, 30_000);
});
