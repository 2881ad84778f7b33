/**
 * The reverse-proxy recipe, deploy/nginx/scimbridge.conf, run as written in Debian's nginx (only
 * its listen address, certificate paths and upstream port changed for the test) in front of
 * `scimbridge serve` with `trustProxy` and `publicUrl`: links carry the public HTTPS URL, and the
 * address scimbridge records for a caller is the client's, not nginx's, even when the client
 * sends an X-Forwarded-For of its own. Clients connect from 127.0.0.2 and 127.0.0.3 (loopback
 * addresses nginx's own upstream connection, from 127.0.0.1, cannot be mistaken for).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, spawnCli, waitForOutput } from "../helpers/cli.js";
import { eventually } from "../harness/slapd.js";
import { issue, makeCa, type Pki } from "../helpers/tls.js";

const TOKEN = "proxy-test-token-0123456789";
const dir = mkdtempSync(join(tmpdir(), "scimbridge-proxy-"));
const children: ChildProcess[] = [];
let ca: Pki;
let publicUrl = "";
let log = "";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function nginxBinary(): string {
  const found = ["/usr/sbin/nginx", "/usr/bin/nginx"].find((p) => spawnSync(p, ["-v"]).status === 0);
  if (!found) throw new Error("nginx is not installed: run `bash scripts/install-system-deps.sh` (Debian package nginx)");
  return found;
}

beforeAll(async () => {
  const nginx = nginxBinary();
  ca = makeCa(dir, "ca");
  const cert = issue(ca, "proxy", "/CN=127.0.0.1", { server: true });
  const [scimPort, proxyPort] = [await freePort(), await freePort()];
  publicUrl = `https://127.0.0.1:${proxyPort}/scim/v2`;

  const config = join(dir, "scimbridge.yaml");
  writeFileSync(config, [`server: { host: 127.0.0.1, port: ${scimPort}, trustProxy: true, publicUrl: '${publicUrl}' }`, `storage: { file: ${join(dir, "db.sqlite")} }`, "logging: { level: info }", ""].join("\n"));
  const scim = spawnCli(["serve", "--config", config], { SCIM_TOKEN: TOKEN });
  children.push(scim);
  scim.stdout!.on("data", (c: Buffer) => (log += c.toString()));
  await waitForOutput(scim, /listening on/);

  const recipe = readFileSync(join(ROOT, "deploy", "nginx", "scimbridge.conf"), "utf8");
  const site = recipe
    .replace(/listen 443 ssl;/, `listen 127.0.0.1:${proxyPort} ssl;`)
    .replace(/ssl_certificate +\S+;/, `ssl_certificate ${cert.cert};`)
    .replace(/ssl_certificate_key +\S+;/, `ssl_certificate_key ${cert.key};`)
    .replace(/proxy_pass http:\/\/127\.0\.0\.1:8080;/, `proxy_pass http://127.0.0.1:${scimPort};`);
  for (const changed of [`127.0.0.1:${proxyPort} ssl`, cert.cert, cert.key, `127.0.0.1:${scimPort};`]) expect(site).toContain(changed);
  const prefix = join(dir, "nginx");
  mkdirSync(join(prefix, "tmp"), { recursive: true });
  writeFileSync(join(prefix, "site.conf"), site);
  // The main context Debian's /etc/nginx/nginx.conf would give, with every path under the test's dir.
  const tmp = join(prefix, "tmp");
  writeFileSync(
    join(prefix, "nginx.conf"),
    [
      "daemon off;",
      "master_process off;",
      `pid ${join(prefix, "nginx.pid")};`,
      `error_log ${join(prefix, "error.log")} warn;`,
      "events { worker_connections 64; }",
      "http {",
      "  access_log off;",
      ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `  ${t}_temp_path ${join(tmp, t)};`),
      `  include ${join(prefix, "site.conf")};`,
      "}",
      "",
    ].join("\n"),
  );
  const check = spawnSync(nginx, ["-t", "-p", prefix, "-c", join(prefix, "nginx.conf")], { encoding: "utf8" });
  expect(check.status, check.stderr).toBe(0);
  const proxy = spawn(nginx, ["-p", prefix, "-c", join(prefix, "nginx.conf")], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(proxy);
  expect(await eventually(async () => (await send("GET", "/healthz", { from: "127.0.0.2" }).catch(() => ({ status: 0 }))).status === 200, 10_000)).toBe(true);
}, 60_000);

afterAll(async () => {
  for (const c of children) c.kill("SIGTERM");
  await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once("exit", r)) : Promise.resolve())));
  rmSync(dir, { recursive: true, force: true });
});

function send(method: string, path: string, o: { from: string; body?: unknown; headers?: Record<string, string> }): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(publicUrl);
    const req = request(
      { host: "127.0.0.1", port: url.port, path, method, localAddress: o.from, ca: readFileSync(ca.caFile), agent: false, headers: { "Content-Type": "application/scim+json", ...o.headers } },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end(o.body === undefined ? undefined : JSON.stringify(o.body));
  });
}

describe("nginx in front (deploy/nginx/scimbridge.conf)", () => {
  it("links carry the public HTTPS URL: Location and meta.location", async () => {
    const created = await send("POST", "/scim/v2/Users", { from: "127.0.0.2", headers: { Authorization: `Bearer ${TOKEN}` }, body: { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "proxied" } });
    expect(created.status).toBe(201);
    const user = JSON.parse(created.body) as { id: string; meta: { location: string } };
    expect(user.meta.location).toBe(`${publicUrl}/Users/${user.id}`);
    expect(created.headers.location).toBe(user.meta.location);
    const listed = JSON.parse((await send("GET", "/scim/v2/Users", { from: "127.0.0.2", headers: { Authorization: `Bearer ${TOKEN}` } })).body) as { Resources: { meta: { location: string } }[] };
    expect(listed.Resources[0]!.meta.location.startsWith(publicUrl)).toBe(true);
  });

  it("the caller's address is the client's (X-Forwarded-For from nginx), never nginx's nor one the client made up", async () => {
    const refused = await send("GET", "/scim/v2/Users", { from: "127.0.0.3", headers: { Authorization: "Bearer wrong-token-000000000000", "X-Forwarded-For": "203.0.113.66" } });
    expect(refused.status).toBe(401);
    const line = () => log.split("\n").find((l) => l.includes('"authentication failed"') || l.includes('"msg":"authentication failed'));
    expect(await eventually(() => line() !== undefined)).toBe(true);
    const entry = JSON.parse(line()!) as { address: string };
    expect(entry.address).toBe("127.0.0.3");
    expect(log).not.toContain("203.0.113.66");
  });
});
