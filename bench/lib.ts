/** Small helpers for the benchmark: timing, medians, a keep-alive HTTP client, printing. */
import { Client } from "ldapts";
import type { SlapdHandle } from "../hooks/ldap/slapd.js";
import { Agent, request } from "node:http";
import { connect, type Socket } from "node:net";

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

export const ms = (ns: bigint) => Number(ns) / 1e6;

export interface HttpClient {
  get(path: string): Promise<{ status: number; body: string }>;
  send(method: string, path: string, body?: unknown): Promise<{ status: number; body: string }>;
  close(): void;
}

/** One keep-alive connection pool to a base URL, with a bearer token. */
export function httpClient(base: string, token: string, maxSockets = 16): HttpClient {
  const url = new URL(base);
  const agent = new Agent({ keepAlive: true, maxSockets });
  const send = (method: string, path: string, body?: unknown) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          method,
          path: url.pathname.replace(/\/$/, "") + path,
          headers: {
            Authorization: `Bearer ${token}`,
            Accept: "application/scim+json",
            ...(data ? { "Content-Type": "application/scim+json", "Content-Length": data.length } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        },
      );
      req.on("error", reject);
      if (data) req.write(data);
      req.end();
    });
  return { get: (p) => send("GET", p), send, close: () => agent.destroy() };
}

/**
 * One keep-alive HTTP/1.1 connection, one request at a time, the request written in one piece: a
 * latency probe whose own cost stays out of the figure. node:http's client takes about 0.15 ms to
 * build and write each request (measured on this VM), and in the bench it runs on the server's own
 * event loop, where an identity provider's client would not. Responses must carry Content-Length
 * (scimbridge's always do); anything else is an error, not a guess.
 */
export async function rawHttpClient(base: string, token: string): Promise<HttpClient> {
  const url = new URL(base);
  const socket: Socket = connect(Number(url.port), url.hostname);
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  let buffered: Buffer = Buffer.alloc(0);
  let waiting: { resolve: (r: { status: number; body: string }) => void; reject: (e: Error) => void } | undefined;
  const fail = (e: Error) => {
    const w = waiting;
    waiting = undefined;
    w?.reject(e);
  };
  socket.on("error", fail);
  socket.on("close", () => fail(new Error("connection closed")));
  socket.on("data", (chunk: Buffer) => {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    const headEnd = buffered.indexOf("\r\n\r\n");
    if (headEnd < 0) return;
    const head = buffered.subarray(0, headEnd).toString("latin1");
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!length) return fail(new Error(`response without Content-Length: ${head.split("\r\n")[0]}`));
    const end = headEnd + 4 + Number(length[1]);
    if (buffered.length < end) return;
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
    const body = buffered.subarray(headEnd + 4, end).toString("utf8");
    buffered = buffered.subarray(end);
    const w = waiting;
    waiting = undefined;
    w?.resolve({ status, body });
  });
  const prefix = url.pathname.replace(/\/$/, "");
  const send = (method: string, path: string, body?: unknown) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      if (waiting) return reject(new Error("rawHttpClient: one request at a time"));
      waiting = { resolve, reject };
      const data = body === undefined ? "" : JSON.stringify(body);
      const headers = [`${method} ${prefix}${path} HTTP/1.1`, `Host: ${url.host}`, `Authorization: Bearer ${token}`, "Accept: application/scim+json"];
      if (body !== undefined) headers.push("Content-Type: application/scim+json", `Content-Length: ${Buffer.byteLength(data)}`);
      socket.write(`${headers.join("\r\n")}\r\n\r\n${data}`);
    });
  return { get: (p) => send("GET", p), send, close: () => socket.destroy() };
}

/** Times `fn` `n` times sequentially after `warm` warm-up calls; returns per-call milliseconds. */
export async function timeEach(n: number, warm: number, fn: (i: number) => Promise<void>): Promise<number[]> {
  for (let i = 0; i < warm; i++) await fn(i);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await fn(i);
    out.push(ms(process.hrtime.bigint() - t0));
  }
  return out;
}

export function row(label: string, value: string): void {
  console.log(`  ${label.padEnd(58)} ${value}`);
}

export const fmt = (x: number, digits = 2) => x.toFixed(digits);

/** An ldapts Client bound as the slapd instance's rootdn (bench set-up and checks). */
export async function boundClient(slapd: Pick<SlapdHandle, "url" | "rootDn" | "rootPassword">): Promise<Client> {
  const c = new Client({ url: slapd.url, timeout: 60_000 });
  await c.bind(slapd.rootDn, slapd.rootPassword);
  return c;
}
