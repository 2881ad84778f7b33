/**
 * Which LDAP failures heal by retrying (transient) and which need a person (permanent).
 *
 * ldapts 8.2 throws a ResultCodeError subclass with a numeric `.code` for every LDAP result, and
 * plain Errors for socket failures and timeouts (ldap-targets.md §4.7). Node's own socket and TLS
 * errors carry a string `.code` (ECONNREFUSED, DEPTH_ZERO_SELF_SIGNED_CERT, ...).
 * Result codes: RFC 4511 §4.1.9 and Appendix A, https://www.rfc-editor.org/rfc/rfc4511
 */
import { ResultCodeError } from "ldapts";

export interface LdapErrorClass {
  /** Retrying the same operation later may succeed. */
  transient: boolean;
  /** LDAP result code, when the server answered. */
  code?: number;
  message: string;
  /** The failure was connecting or binding the service account: it concerns the whole target,
   *  not this operation (a worker may pause the target instead of failing the item). */
  connection?: boolean;
}

export interface ResultCodeRule {
  name: string;
  transient: boolean;
  why?: string;
}

/** Every result code we classify by number. Codes not listed are permanent. */
export const LDAP_RESULT_CODES: Readonly<Record<number, ResultCodeRule>> = {
  1: { name: "operationsError", transient: false, why: "transient only as 'without authentication' (see TRANSIENT_MESSAGES)" },
  2: { name: "protocolError", transient: false },
  3: { name: "timeLimitExceeded", transient: true, why: "the server ran out of time; a later try may not" },
  4: { name: "sizeLimitExceeded", transient: false, why: "the same search hits the same limit: page it" },
  7: { name: "authMethodNotSupported", transient: false },
  8: { name: "strongAuthRequired", transient: false, why: "AD/Samba refuse plain simple binds: configure TLS" },
  10: { name: "referral", transient: false, why: "we do not chase referrals" },
  11: { name: "adminLimitExceeded", transient: false },
  12: { name: "unavailableCriticalExtension", transient: false },
  13: { name: "confidentialityRequired", transient: false },
  16: { name: "noSuchAttribute", transient: false },
  17: { name: "undefinedAttributeType", transient: false, why: "schema: the mapping names an unknown attribute" },
  18: { name: "inappropriateMatching", transient: false },
  19: { name: "constraintViolation", transient: false, why: "e.g. AD password policy 0000052D" },
  20: { name: "attributeOrValueExists", transient: false },
  21: { name: "invalidAttributeSyntax", transient: false },
  32: { name: "noSuchObject", transient: false },
  34: { name: "invalidDNSyntax", transient: false },
  36: { name: "aliasDereferencingProblem", transient: false },
  48: { name: "inappropriateAuthentication", transient: false },
  49: { name: "invalidCredentials", transient: false, why: "a wrong service password does not fix itself" },
  50: { name: "insufficientAccessRights", transient: false },
  51: { name: "busy", transient: true, why: "RFC 4511: the server is too busy to serve the operation" },
  52: { name: "unavailable", transient: true, why: "RFC 4511: the server is shutting down or not serving yet" },
  53: { name: "unwillingToPerform", transient: false },
  54: { name: "loopDetect", transient: false },
  64: { name: "namingViolation", transient: false },
  65: { name: "objectClassViolation", transient: false },
  66: { name: "notAllowedOnNonLeaf", transient: false },
  67: { name: "notAllowedOnRDN", transient: false, why: "AD: rename with modifyDN, not modify of cn" },
  68: { name: "entryAlreadyExists", transient: false },
  69: { name: "objectClassModsProhibited", transient: false },
  71: { name: "affectsMultipleDSAs", transient: false },
  80: { name: "other", transient: false, why: "AD uses it for rejected values (pwdLastSet); transient only if it says busy" },
  // Client-side codes of the C API (RFC 1823 lineage, OpenLDAP ldap.h); ldapts does not produce
  // them, but other layers or recorded responses may.
  81: { name: "serverDown", transient: true },
  85: { name: "timeout", transient: true },
  91: { name: "connectError", transient: true },
};

/**
 * Result-code errors whose diagnostic text marks them transient whatever the code says.
 * - 1 "... without authentication": ldapts silently reconnected an unbound socket after a timeout
 *   (ldap-targets.md §4.2 measured it on Samba); rebinding fixes it.
 * - 80 with "busy": some servers report overload as `other`.
 */
export const TRANSIENT_MESSAGES: ReadonlyArray<{ code: number; pattern: RegExp }> = [
  { code: 1, pattern: /without authentication/i },
  { code: 80, pattern: /\bbusy\b/i },
];

/** Node socket error codes for a lost or unreachable peer: the network or the server may come back. */
export const TRANSIENT_SOCKET_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
  // NXDOMAIN: usually a typo, but service names also vanish briefly during redeploys; retrying
  // costs little and the target's health shows the error meanwhile.
  "ENOTFOUND",
]);

/**
 * Plain-Error messages ldapts 8.2 uses for socket loss and timeouts (src/Client.ts): the socket is
 * gone (a timeout destroys it) and the next operation reconnects.
 */
export const TRANSIENT_PLAIN_MESSAGES: readonly RegExp[] = [
  /Operation timed out/i,
  /Connection timeout/i,
  /Connection closed before message response/i,
  /Socket error/i,
  /Socket connection not established/i,
];

/**
 * TLS failures are permanent: an untrusted, expired or misnamed certificate, or TLS spoken to a
 * plain port, will not heal by retrying; an operator must fix the CA file, the certificate or the
 * URL. Node reports them with OpenSSL verify codes (https://nodejs.org/api/tls.html, "X509
 * certificate error codes") or ERR_TLS_* / ERR_SSL_* / EPROTO.
 */
export function isTlsError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return false;
  return (
    /^ERR_(TLS|SSL)_/.test(code) ||
    code === "EPROTO" ||
    /CERT|SIGNATURE|ISSUER|DEPTH_ZERO|SELF_SIGNED|VERIFY|UNABLE_TO_/.test(code)
  );
}

/**
 * An error that LdapTarget raises itself (connect, bind or back-off), carrying its classification.
 * `cause` is the underlying ldapts or socket error, if any.
 */
export class LdapConnectionError extends Error {
  readonly transient: boolean;
  readonly code?: number;
  constructor(message: string, options: { transient: boolean; code?: number; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = "LdapConnectionError";
    this.transient = options.transient;
    this.code = options.code;
  }
}

/** Classifies anything thrown by ldapts, Node's net/tls, or LdapTarget. Never throws. */
export function classifyLdapError(e: unknown): LdapErrorClass {
  if (e instanceof LdapConnectionError) {
    return { transient: e.transient, code: e.code, message: e.message, connection: true };
  }
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof ResultCodeError) {
    const code = e.code;
    const byMessage = TRANSIENT_MESSAGES.some((t) => t.code === code && t.pattern.test(message));
    return { transient: byMessage || (LDAP_RESULT_CODES[code]?.transient ?? false), code, message };
  }
  if (isTlsError(e)) return { transient: false, message };
  const sysCode = (e as { code?: unknown } | null)?.code;
  if (typeof sysCode === "string" && TRANSIENT_SOCKET_CODES.has(sysCode)) return { transient: true, message };
  if (TRANSIENT_PLAIN_MESSAGES.some((re) => re.test(message))) return { transient: true, message };
  // Anything else (filter parse errors, bugs) repeats identically on retry.
  return { transient: false, message };
}

/** True when the error means the connection is gone or unauthenticated and must be re-made. */
export function isConnectionLost(e: unknown): boolean {
  if (e instanceof ResultCodeError) return e.code === 1 && /without authentication/i.test(e.message);
  const message = e instanceof Error ? e.message : String(e);
  const sysCode = (e as { code?: unknown } | null)?.code;
  return (
    (typeof sysCode === "string" && TRANSIENT_SOCKET_CODES.has(sysCode)) ||
    TRANSIENT_PLAIN_MESSAGES.some((re) => re.test(message))
  );
}

/** The LDAP result in an error or its causes (LdapTarget wraps a failed bind in LdapConnectionError). */
function resultOf(e: unknown): ResultCodeError | undefined {
  for (let cur = e, depth = 0; cur instanceof Error && depth < 5; cur = cur.cause, depth++) {
    if (cur instanceof ResultCodeError) return cur;
  }
  return undefined;
}

/**
 * An error for a person: an LDAP result as "49 invalidCredentials: <the server's diagnostic
 * message>" (RFC 4511 §4.1.9: resultCode, diagnosticMessage), never ldapts's bare "Code: 0x31";
 * a failed connect or bind keeps LdapTarget's words for where it failed. Anything else: its message.
 */
export function describeLdapError(e: unknown): string {
  const result = resultOf(e);
  if (!result) return e instanceof Error ? e.message : String(e);
  const name = LDAP_RESULT_CODES[result.code]?.name ?? "result";
  // ldapts appends " Code: 0x<hex>" to the diagnostic message (empty when the server sent none).
  const diagnostic = result.message.replace(/\s*Code: 0x[0-9a-f]+\s*$/i, "").trim();
  const described = `${result.code} ${name}: ${diagnostic || "(no diagnostic message from the server)"}`;
  if (result === e) return described;
  const context = e instanceof Error ? e.message.split(" (")[0] : "";
  return context ? `${context}: ${described}` : described;
}

/**
 * What to check, for the result codes whose name alone does not say it. OpenLDAP's meanings:
 * https://www.openldap.org/doc/admin26/appendix-ldap-result-codes.html; AD's:
 * https://learn.microsoft.com/en-us/troubleshoot/windows-server/active-directory/ldap-error-codes
 */
export const LDAP_HINTS: Readonly<Record<number, string>> = {
  17: "the rule maps to an attribute the directory's schema does not define",
  19: "a value breaks a directory constraint (a password policy, a single-valued attribute, a size limit)",
  21: "a value does not match the attribute's syntax (a date, an integer, a DN)",
  32: "the parent entry (the rule's base DN) does not exist",
  34: "the DN is malformed: check the rule's DN template and the escaping of the values in it",
  50: "the service account may not write here: grant it write access to the rule's base DN",
  53: "the directory refuses the operation as configured (AD: a password needs TLS; a protected attribute)",
  64: "the RDN attribute is not allowed for this object class, or the RDN is not in the entry",
  65: "an object class is missing or an attribute is not allowed by the entry's object classes",
  68: "an entry already exists at this DN",
  80: "OpenLDAP answers 'other' for a value or DN over its internal size limits (a very long RDN) and AD for values it rejects: check the length and content of the values written",
};

/**
 * An LDAP failure for the sync status, the admin page and the logs: the result code and its
 * name, the server's diagnostic message (describeLdapError) and, where known, a hint.
 */
export function describeLdapFailure(e: unknown): string {
  const described = describeLdapError(e);
  const code = resultOf(e)?.code;
  const hint = code === undefined ? undefined : LDAP_HINTS[code];
  return hint ? `${described} (hint: ${hint})` : described;
}
