/**
 * HTTPS for the SCIM listener (`server.tls`): the certificate files are polled and the server's
 * secure context swapped when they change, so short-lived certificates (ACME, a service mesh's
 * issuer) renew without a restart and without dropping connections. A file caught half-written
 * (a key that does not match the certificate) is refused and the previous context kept.
 *
 * Client certificates (mTLS): with `caFile`, the server asks for one and Node verifies it against
 * that CA; `clients` maps a verified certificate's subject to a SCIM client. PingFederate's SCIM
 * connector can present one ("Client certificate" under the channel's connection settings).
 */
import { readFileSync, statSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { createSecureContext, type PeerCertificate, type TLSSocket } from "node:tls";
import type { ServerOptions } from "node:https";
import type { Config } from "../config/schema.js";
import type { Logger } from "../logger.js";

export type TlsConfig = NonNullable<Config["server"]["tls"]>;

interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer | undefined;
}

function readTlsFiles(tls: TlsConfig): TlsFiles {
  const read = (file: string, key: string) => {
    try {
      return readFileSync(file);
    } catch (e) {
      throw new Error(`server.tls.${key}: cannot read ${file}: ${(e as Error).message}`);
    }
  };
  return { cert: read(tls.certFile, "certFile"), key: read(tls.keyFile, "keyFile"), ca: tls.caFile === undefined ? undefined : read(tls.caFile, "caFile") };
}

/** The secure-context part of the options, from the files' current contents. */
function contextOptions(tls: TlsConfig, files: TlsFiles) {
  return { cert: files.cert, key: files.key, ca: files.ca, minVersion: tls.minVersion };
}

/**
 * Options for https.createServer. A bad certificate or key is a start-up error naming the key
 * (createSecureContext checks that the key matches the certificate).
 */
export function httpsOptions(tls: TlsConfig): ServerOptions {
  const files = readTlsFiles(tls);
  try {
    createSecureContext(contextOptions(tls, files));
  } catch (e) {
    throw new Error(`server.tls: the certificate ${tls.certFile} and key ${tls.keyFile} cannot be used: ${(e as Error).message}`);
  }
  const asking = tls.caFile !== undefined;
  return {
    ...contextOptions(tls, files),
    requestCert: asking,
    // "optional": a client without a certificate still completes the handshake and authenticates
    // with a bearer token or Basic; one with a certificate the CA did not issue is refused.
    rejectUnauthorized: asking && tls.clientCertificate === "required",
  };
}

/** A change stamp of the files: inode, size and mtime (stat follows the symlinks certificate managers swap). */
function stampOf(tls: TlsConfig): string {
  return [tls.certFile, tls.keyFile, tls.caFile]
    .filter((f): f is string => f !== undefined)
    .map((f) => {
      try {
        const s = statSync(f);
        return `${s.ino}:${s.size}:${s.mtimeMs}`;
      } catch {
        return "missing";
      }
    })
    .join("|");
}

/**
 * Polls the files every `reloadSeconds` and calls `apply` with new context options when they
 * changed and form a usable pair. Returns the function that stops polling.
 */
export function watchCertificates(tls: TlsConfig, apply: (options: ReturnType<typeof contextOptions>) => void, logger: Logger): () => void {
  let seen = stampOf(tls);
  const timer = setInterval(() => {
    const now = stampOf(tls);
    if (now === seen) return;
    try {
      const options = contextOptions(tls, readTlsFiles(tls));
      createSecureContext(options); // throws on a key that does not match the certificate
      apply(options);
      seen = now;
      logger.info({ certFile: tls.certFile }, "TLS certificate reloaded");
    } catch (e) {
      // Possibly caught between the writes of the certificate and the key: tried again next poll.
      logger.warn({ certFile: tls.certFile, err: (e as Error).message }, "TLS certificate files changed but cannot be used yet; keeping the previous certificate");
    }
  }, tls.reloadSeconds * 1000);
  timer.unref();
  return () => clearInterval(timer);
}

/** `CN=pingfed, O=Example` as sorted `TYPE=value` pairs (types compare case-insensitively). */
export function subjectKey(subject: string): string {
  return subject
    .split(",")
    .map((p) => {
      const eq = p.indexOf("=");
      return `${p.slice(0, eq).trim().toUpperCase()}=${p.slice(eq + 1).trim()}`;
    })
    .sort()
    .join(",");
}

/** The same key from Node's parsed subject (a repeated attribute such as two OUs is an array). */
export function peerSubjectKey(subject: PeerCertificate["subject"]): string {
  return Object.entries(subject)
    .flatMap(([type, v]) => (Array.isArray(v) ? v : [v]).filter((value): value is string => value !== undefined).map((value) => `${type.toUpperCase()}=${value}`))
    .sort()
    .join(",");
}

/** A SCIM client authenticated by its certificate: the name and scopes `clients` maps its subject to. */
export interface CertificateClient {
  name: string;
  scopes: ReadonlySet<string>;
}

/**
 * The SCIM client a request's verified client certificate names, if any (server.tls.clients). The
 * authentication middleware asks only when the request carries no Authorization header of its
 * own: a request with credentials is authenticated by those alone.
 */
export function certificateClients(tls: TlsConfig | undefined): ((req: IncomingMessage) => CertificateClient | undefined) | undefined {
  const clients = tls?.clients ?? [];
  if (!clients.length) return undefined;
  const bySubject = new Map(clients.map((c) => [subjectKey(c.subject), { name: c.name, scopes: new Set(c.scopes) }] as const));
  return (req) => {
    const socket = req.socket as Partial<TLSSocket>;
    if (!socket.authorized || !socket.getPeerCertificate) return undefined; // no certificate, or one the CA did not issue
    return bySubject.get(peerSubjectKey(socket.getPeerCertificate().subject));
  };
}
