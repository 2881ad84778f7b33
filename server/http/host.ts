/**
 * The base URL of links (`Location`, `meta.location`, `$ref`; RFC 7644 §3.1) when no
 * `server.publicUrl` is set. The Host header is the client's to choose, so it is used only when it
 * names this server: one of `server.hostNames`, the address the connection arrived on, or
 * `localhost` over loopback. Any other Host is ignored and links use that local address instead,
 * so a forged Host (cache poisoning, password-reset-style link injection) never reaches a response.
 * Two Host headers are refused (RFC 9112 §3.2: a request with more than one is a 400).
 */
import { isIP } from "node:net";
import type { Request, RequestHandler } from "express";
import { errorBody, sendScim } from "./scim-response.js";

/** The host name of a Host header value (`name[:port]` or `[v6][:port]`), lower-cased; undefined when malformed. */
export function hostNameOf(host: string): string | undefined {
  const m = /^(?:\[([0-9a-f:.]+)\]|([a-z0-9.-]+))(?::(\d{1,5}))?$/i.exec(host.trim());
  return m ? (m[1] ?? m[2])!.toLowerCase() : undefined;
}

/** The address the connection arrived on, IPv4-mapped IPv6 written as IPv4. */
const localAddressOf = (req: Request) => (req.socket.localAddress ?? "127.0.0.1").replace(/^::ffff:(?=\d+\.)/, "").toLowerCase();

/** The connection's local address as a URL authority (`127.0.0.1:8080`, `[::1]:8080`). */
function localAuthority(req: Request): string {
  const address = localAddressOf(req);
  return `${isIP(address) === 6 ? `[${address}]` : address}:${req.socket.localPort ?? 80}`;
}

const isLoopback = (address: string) => /^(?:127\.|::1$)/.test(address);

export function baseUrlResolver(server: { publicUrl?: string | undefined; basePath: string; hostNames: string[] }): (req: Request) => string {
  if (server.publicUrl !== undefined) {
    const fixed = server.publicUrl.replace(/\/+$/, "");
    return () => fixed;
  }
  const basePath = server.basePath.replace(/\/+$/, "");
  const known = new Set(server.hostNames.map((h) => h.toLowerCase()));
  return (req) => {
    const host = req.headers.host;
    const name = host === undefined ? undefined : hostNameOf(host);
    const local = localAddressOf(req);
    const trusted = name !== undefined && (known.has(name) || name === local || (name === "localhost" && isLoopback(local)));
    return `${req.protocol}://${trusted ? host!.trim() : localAuthority(req)}${basePath}`;
  };
}

/** 400 with a SCIM Error when the request carries more than one Host header. */
export const rejectRepeatedHost: RequestHandler = (req, res, next) => {
  let hosts = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.toLowerCase() === "host") hosts++;
  if (hosts <= 1) return next();
  sendScim(req, res, 400, errorBody(400, "more than one Host header (RFC 9112 §3.2)"));
};
