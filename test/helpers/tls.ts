/**
 * A throwaway PKI made with the openssl command line: a CA, server certificates for 127.0.0.1,
 * and client certificates with a given subject. Missing openssl fails the test with the reason.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") throw new Error("openssl is not installed: run `bash scripts/install-system-deps.sh` (Debian package openssl)");
    throw new Error(`openssl ${args[0]} failed: ${String((e as { stderr?: Buffer }).stderr ?? e)}`);
  }
}

export interface Pki {
  dir: string;
  /** PEM file of the CA certificate. */
  caFile: string;
  caKey: string;
  name: string;
}

/** A self-signed CA (EC P-256) under `dir`. */
export function makeCa(dir: string, name: string): Pki {
  const caKey = join(dir, `${name}.key`);
  const caFile = join(dir, `${name}.crt`);
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", caKey, "-out", caFile, "-days", "2", "-subj", `/CN=${name} test CA`], dir);
  return { dir, caFile, caKey, name };
}

/**
 * A certificate signed by the CA, with key, as `<file>.crt` and `<file>.key`. `server: true` adds
 * subjectAltName IP:127.0.0.1 and DNS:localhost and serverAuth; otherwise clientAuth.
 */
export function issue(ca: Pki, file: string, subject: string, o: { server?: boolean } = {}): { cert: string; key: string } {
  const key = join(ca.dir, `${file}.key`);
  const cert = join(ca.dir, `${file}.crt`);
  const csr = join(ca.dir, `${file}.csr`);
  const ext = join(ca.dir, `${file}.ext`);
  writeFileSync(ext, o.server ? "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n" : "extendedKeyUsage=clientAuth\n");
  openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr, "-subj", subject], ca.dir);
  openssl(["x509", "-req", "-in", csr, "-CA", ca.caFile, "-CAkey", ca.caKey, "-CAcreateserial", "-out", cert, "-days", "1", "-extfile", ext], ca.dir);
  return { cert, key };
}
