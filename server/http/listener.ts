/**
 * The SCIM service's socket: plain HTTP, or HTTPS with `server.tls` (./tls.ts), whose
 * certificates are reloaded while it runs. On the TLS port a plain-HTTP request fails the
 * handshake and is never served.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, type ServerOptions } from "node:https";
import type { AddressInfo } from "node:net";
import type { Config } from "../config/schema.js";
import type { Logger } from "../logger.js";
import { certificateClients, httpsOptions, watchCertificates } from "./tls.js";

export interface Listener {
  server: Server;
  /** The SCIM base URL on the address listened on (https:// with TLS). */
  url: string;
  /** Stops watching the certificate files (the server itself is closed by its owner). */
  unwatch(): void;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface PreparedListener {
  config: Config;
  /** The certificate and key read and checked (undefined without server.tls). */
  https?: ServerOptions | undefined;
  /** The SCIM client a verified TLS client certificate names (server.tls.clients), when any are mapped. */
  certificates: ReturnType<typeof certificateClients>;
}

/**
 * Reads and checks the TLS files before anything else starts, so a bad certificate stops
 * start-up naming the key without leaving a half-started server behind.
 */
export function prepareListener(config: Config): PreparedListener {
  const tls = config.server.tls;
  return { config, https: tls && httpsOptions(tls), certificates: certificateClients(tls) };
}

/** Listens on server.host:server.port; resolves once bound. */
export async function listen(prepared: PreparedListener, handler: Handler, logger: Logger): Promise<Listener> {
  const { config } = prepared;
  const tls = config.server.tls;
  // https.Server has every method of http.Server that serve uses (close, closeAllConnections, ...).
  const server: Server = prepared.https ? (createHttpsServer(prepared.https, handler) as unknown as Server) : createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.server.port, config.server.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const unwatch = tls ? watchCertificates(tls, (o) => (server as unknown as { setSecureContext(o: object): void }).setSecureContext(o), logger) : () => {};
  const { port } = server.address() as AddressInfo;
  const host = config.server.host.includes(":") ? `[${config.server.host}]` : config.server.host;
  return { server, url: `${tls ? "https" : "http"}://${host}:${port}${config.server.basePath}`, unwatch };
}
