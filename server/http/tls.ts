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
import { randomBytes } from "node:crypto";
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

/**
 * Certificate clients as SCIM credentials. The authentication middleware knows bearer tokens and
 * Basic pairs; each mapped subject becomes a Basic pair with a random user name and password that
 * live only in this process's memory, and a request arriving with that verified certificate and
 * no Authorization header of its own is given the pair. Nothing outside the process can present
 * them, and a request with its own credentials is authenticated by those alone.
 */
export function certificateClients(tls: TlsConfig | undefined): {
  basic: Config["auth"]["basic"];
  authenticate: (req: IncomingMessage) => void;
} {
  const bySubject = new Map<string, string>();
  const basic = (tls?.clients ?? []).map((c) => {
    const username = `tls-client-${randomBytes(12).toString("hex")}`;
    const password = randomBytes(32).toString("base64url");
    bySubject.set(subjectKey(c.subject), `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`);
    return { username, password, name: c.name, scopes: c.scopes };
  });
  return {
    basic,
    authenticate(req) {
      if (!bySubject.size || req.headers.authorization !== undefined) return;
      const socket = req.socket as TLSSocket;
      if (!socket.authorized) return; // no certificate, or one the CA did not issue
      const header = bySubject.get(peerSubjectKey(socket.getPeerCertificate().subject));
      if (header) req.headers.authorization = header;
    },
  };
}
