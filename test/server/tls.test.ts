/**
 * `server.tls` against real TLS clients (node:https, OpenSSL underneath) and certificates made by
 * openssl: the handshake and minimum version, plain HTTP refused on the TLS port, a certificate
 * renewed on disk taken without a restart, and client certificates (mTLS) accepted by subject or
 * refused.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request, type RequestOptions } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../server/config/load.js";
import { startServer, type Running } from "../../server/serve.js";
import { eventually } from "../harness/slapd.js";
import { collect } from "../helpers/collect.js";
import { issue, makeCa, type Pki } from "../helpers/tls.js";

const TOKEN = "tls-test-token-0123456789";
const dir = mkdtempSync(join(tmpdir(), "scimbridge-tls-"));
let ca: Pki;
let rogue: Pki;
const running: Running[] = [];

beforeAll(() => {
  ca = makeCa(dir, "ca");
  rogue = makeCa(dir, "rogue");
});
afterAll(async () => {
  await Promise.all(running.map((r) => r.stop()));
  rmSync(dir, { recursive: true, force: true });
});

async function serve(name: string, tls: Record<string, unknown>): Promise<Running> {
  const config = parseConfig({ server: { host: "127.0.0.1", port: 0, tls }, storage: { file: join(dir, name, "db.sqlite") }, logging: { level: "silent" } }, {});
  const r = await startServer(config, { env: { SCIM_TOKEN: TOKEN }, handleSignals: false });
  running.push(r);
  return r;
}

interface Answer {
  status: number;
  body: string;
  /** SHA-256 fingerprint of the certificate the server presented. */
  fingerprint: string;
  protocol: string | null;
}

function get(url: string, o: RequestOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: readFileSync(ca.caFile), agent: false, ...o }, (res) => {
      const socket = res.socket as TLSSocket;
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      const protocol = socket.getProtocol();
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, fingerprint, protocol }));
    });
    req.on("error", reject);
    req.end();
  });
}

const bearer = { headers: { Authorization: `Bearer ${TOKEN}` } };

describe("server.tls", () => {
  let server: { cert: string; key: string };
  let r: Running;
  beforeAll(async () => {
    server = issue(ca, "server", "/CN=127.0.0.1", { server: true });
    // Served from copies, so the test can renew them in place.
    copyFileSync(server.cert, join(dir, "live.crt"));
    copyFileSync(server.key, join(dir, "live.key"));
    r = await serve("https", { certFile: join(dir, "live.crt"), keyFile: join(dir, "live.key"), reloadSeconds: 0.2 });
  });

  it("serves SCIM over HTTPS with a certificate the client verifies; the URL says https", async () => {
    expect(r.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/scim\/v2$/);
    const a = await get(`${r.url}/Users`, bearer);
    expect(a.status).toBe(200);
    expect(JSON.parse(a.body)).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:ListResponse"] });
    // A client that does not trust the CA refuses the handshake.
    await expect(get(`${r.url}/Users`, { ...bearer, ca: readFileSync(rogue.caFile) })).rejects.toThrow(/self.signed|unable to verify|certificate/i);
  });

  it("refuses plain HTTP on the TLS port: no HTTP answer is given", async () => {
    const plain = r.url.replace(/^https:/, "http:");
    const outcome = await new Promise<string>((resolve) => {
      const req = httpRequest(`${plain}/Users`, { headers: bearer.headers, agent: false }, (res) => resolve(`answered ${res.statusCode}`));
      req.on("error", (e) => resolve(`refused: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
      req.setTimeout(5000, () => req.destroy(new Error("timeout")));
      req.end();
    });
    expect(outcome).toMatch(/^refused: (ECONNRESET|HPE_INVALID_CONSTANT|HPE_|socket hang up)/);
  });

  it("takes a renewed certificate from disk without a restart", async () => {
    const before = (await get(`${r.url}/Users`, bearer)).fingerprint;
    const renewed = issue(ca, "server-renewed", "/CN=127.0.0.1", { server: true });
    // Key first, then certificate, as a renewal tool writes them: the half-way state is refused and kept out.
    copyFileSync(renewed.key, join(dir, "live.key"));
    copyFileSync(renewed.cert, join(dir, "live.crt"));
    let after = before;
    expect(
      await eventually(async () => {
        after = (await get(`${r.url}/Users`, bearer)).fingerprint;
        return after !== before;
      }, 10_000),
    ).toBe(true);
    const expected = (await import("node:crypto")).X509Certificate;
    expect(after).toBe(new expected(readFileSync(renewed.cert)).fingerprint256);
    expect((await get(`${r.url}/Users`, bearer)).status).toBe(200);
  });

  it("honours minVersion: a TLS 1.2 client cannot reach a TLSv1.3 server", async () => {
    const strict = await serve("tls13", { certFile: server.cert, keyFile: server.key, minVersion: "TLSv1.3" });
    expect((await get(`${strict.url}/Users`, bearer)).protocol).toBe("TLSv1.3");
    await expect(get(`${strict.url}/Users`, { ...bearer, maxVersion: "TLSv1.2" })).rejects.toThrow(/version|alert|handshake/i);
  });

  it("a certificate that does not match its key stops start-up naming the keys", async () => {
    const other = issue(ca, "other", "/CN=127.0.0.1", { server: true });
    await expect(serve("mismatch", { certFile: server.cert, keyFile: other.key })).rejects.toThrow(/server\.tls: the certificate .* and key .* cannot be used/);
  });
});

describe("server.tls client certificates (mTLS)", () => {
  let r: Running;
  let pingfed: { cert: string; key: string };
  let stranger: { cert: string; key: string };
  let forged: { cert: string; key: string };
  beforeAll(async () => {
    const server = issue(ca, "server-m", "/CN=127.0.0.1", { server: true });
    pingfed = issue(ca, "pingfed", "/O=Example/CN=pingfed");
    stranger = issue(ca, "stranger", "/CN=stranger");
    forged = issue(rogue, "forged", "/O=Example/CN=pingfed");
    r = await serve("mtls", {
      certFile: server.cert,
      keyFile: server.key,
      caFile: ca.caFile,
      clients: [{ subject: "CN=pingfed, O=Example", name: "pingfed-cert", scopes: ["scim"] }],
    });
  });
  const withCert = (c: { cert: string; key: string }) => ({ cert: readFileSync(c.cert), key: readFileSync(c.key) });

  it("a mapped certificate subject authenticates as its client, audited under that name", async () => {
    const created = await get(`${r.url}/Users`, withCert(pingfed));
    expect(created.status).toBe(200);
    const post = await new Promise<number>((resolve, reject) => {
      const req = request(`${r.url}/Users`, { method: "POST", ca: readFileSync(ca.caFile), agent: false, headers: { "Content-Type": "application/scim+json" }, ...withCert(pingfed) }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end(JSON.stringify({ schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "mtls.user" }));
    });
    expect(post).toBe(201);
    // The audit row is written once the response has finished on the server's side.
    const audited = async () => (await collect(r.app.audit.export({ kind: "scim" }))).some((row) => row.client === "pingfed-cert" && row.operation === "POST" && row.outcome === "201");
    expect(await eventually(audited)).toBe(true);
  });

  it("refuses a certificate whose subject is not mapped, one from another CA, and no certificate (401)", async () => {
    expect((await get(`${r.url}/Users`, withCert(stranger))).status).toBe(401);
    expect((await get(`${r.url}/Users`, withCert(forged))).status).toBe(401);
    expect((await get(`${r.url}/Users`)).status).toBe(401);
    // Bearer clients still work beside certificate clients (clientCertificate: optional).
    expect((await get(`${r.url}/Users`, bearer)).status).toBe(200);
  });

  it("with clientCertificate: required, a client without a certificate fails the handshake", async () => {
    const server = issue(ca, "server-r", "/CN=127.0.0.1", { server: true });
    const strict = await serve("mtls-required", { certFile: server.cert, keyFile: server.key, caFile: ca.caFile, clientCertificate: "required" });
    await expect(get(`${strict.url}/Users`, bearer)).rejects.toThrow(/certificate|alert|socket hang up|ECONNRESET/i);
    expect((await get(`${strict.url}/Users`, { ...bearer, ...withCert(stranger) })).status).toBe(200);
  });
});
