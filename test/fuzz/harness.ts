/**
 * The fuzz harness: the real HTTP app (createApp on a temp SQLite file, as serve runs it) behind a
 * real listening socket, requests sent byte for byte with a keep-alive agent, and the checks every
 * answer must pass: no 5xx, a SCIM Error body (RFC 7644 §3.12) on every 4xx, no uncaught
 * exception or unhandled rejection, and the event loop never blocked longer than the stated bound
 * (measured with perf_hooks.monitorEventLoopDelay).
 */
import { Agent, createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import { gzipSync } from "node:zlib";
import { testApp, type TestApp } from "../helpers/app.js";

/** The stated bound on any one event-loop stall while fuzzing (one request's synchronous work). */
export const EVENT_LOOP_BOUND_MS = 250;
const ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error";
export const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
export const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
export const BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
export const JSON_TYPE = { "Content-Type": "application/scim+json" };

export interface Sent {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export interface FuzzTarget {
  app: TestApp;
  userId: string;
  groupId: string;
  send(r: Sent): Promise<Answer>;
  /** Throws when an answer breaks a rule; `what` describes the request in the message. */
  check(r: Sent, a: Answer): void;
  /** Uncaught exceptions and unhandled rejections seen so far. */
  crashes: unknown[];
  loop: IntervalHistogram;
  close(): Promise<void>;
}

export async function startFuzzTarget(): Promise<FuzzTarget> {
  const app = await testApp({ scim: { bulk: { maxOperations: 50 } } });
  const crashes: unknown[] = [];
  const onCrash = (e: unknown) => crashes.push(e);
  process.on("uncaughtException", onCrash);
  process.on("unhandledRejection", onCrash);
  const server: Server = createServer((req, res) => void app.app(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const auth = app.auth.Authorization;

  const send = (r: Sent) =>
    new Promise<Answer>((resolve, reject) => {
      const body = r.body === undefined ? undefined : Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body);
      const headers: Record<string, string | number> = { Authorization: auth, ...r.headers };
      if (body !== undefined && headers["Content-Length"] === undefined) headers["Content-Length"] = body.length;
      const req = request({ host: "127.0.0.1", port, method: r.method, path: r.path, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end(body);
    });

  const seed = async (path: string, doc: unknown) => {
    const a = await send({ method: "POST", path, headers: { "Content-Type": "application/scim+json" }, body: JSON.stringify(doc) });
    return (JSON.parse(a.text) as { id: string }).id;
  };
  const userId = await seed("/scim/v2/Users", { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "fuzz-seed", emails: [{ value: "f@example.com", type: "work" }] });
  const groupId = await seed("/scim/v2/Groups", { schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: "fuzz-group", members: [{ value: userId }] });

  // Warm-up outside the measurement: the first request down each path compiles its code (and
  // loads zlib, scimmy's schemas); the bound is about serving requests, not starting up.
  for (const r of [
    { method: "GET", path: `/scim/v2/Users?filter=${encodeURIComponent('userName eq "x" or emails[type eq "work"].value co "y"')}&sortBy=userName` },
    { method: "GET", path: "/scim/v2/ServiceProviderConfig" },
    { method: "PATCH", path: `/scim/v2/Users/${userId}`, headers: JSON_TYPE, body: JSON.stringify({ schemas: [PATCH_OP], Operations: [{ op: "add", path: "title", value: "t" }] }) },
    { method: "POST", path: "/scim/v2/Bulk", headers: JSON_TYPE, body: JSON.stringify({ schemas: [BULK], Operations: [{ method: "POST", path: "/Users", bulkId: "w", data: { schemas: [USER], userName: "warm" } }] }) },
    { method: "POST", path: "/scim/v2/Users", headers: { ...JSON_TYPE, "Content-Encoding": "gzip" }, body: gzipSync(JSON.stringify({ schemas: [USER], userName: "warm2" })) },
  ]) await send(r);

  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();

  const check = (r: Sent, a: Answer) => {
    const what = `${r.method} ${r.path.slice(0, 300)} (${a.status}) ${a.text.slice(0, 300)}`;
    // 501 is the RFC's answer for /Me when it is not supported (RFC 7644 §3.11), not a fault.
    if (a.status >= 500 && !(a.status === 501 && /^\/scim\/v2\/Me(\/|\?|$)/.test(r.path))) throw new Error(`5xx: ${what}`);
    // A HEAD answer has no body (RFC 9110 §9.3.2).
    if (a.status >= 400 && r.path.startsWith("/scim/v2") && r.method !== "HEAD") {
      let body: { schemas?: unknown; status?: unknown } | undefined;
      try {
        body = JSON.parse(a.text) as typeof body;
      } catch {
        throw new Error(`a ${a.status} without a JSON body: ${what}`);
      }
      if (!Array.isArray(body?.schemas) || !body.schemas.includes(ERROR_SCHEMA) || body.status !== String(a.status)) {
        throw new Error(`a ${a.status} without a SCIM Error body: ${what}`);
      }
    }
    if (crashes.length) throw new Error(`uncaught: ${String(crashes[0])}`);
  };

  return {
    app,
    userId,
    groupId,
    send,
    check,
    crashes,
    loop,
    async close() {
      loop.disable();
      process.off("uncaughtException", onCrash);
      process.off("unhandledRejection", onCrash);
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app.close();
    },
  };
}
