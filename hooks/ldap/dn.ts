/**
 * Distinguished names as strings (RFC 4514) and filter values (RFC 4515).
 *
 * We build DNs ourselves instead of using ldapts's DN class: it wraps values with leading or
 * trailing spaces in double quotes (RFC 2253/1779 legacy), which RFC 4514 dropped and which not
 * every server accepts (ldap-targets.md §4.8). Servers hand DNs back in their own normalised form
 * (OpenLDAP turns `cn=Smith\, John` into `cn=Smith\2C John`, ldap-targets.md §5.1), so DNs are
 * never compared as strings: use sameDn.
 * https://www.rfc-editor.org/rfc/rfc4514 · https://www.rfc-editor.org/rfc/rfc4515
 */
import { Filter } from "ldapts";

/** One attributeTypeAndValue of an RDN, value unescaped. */
export interface DnAttribute {
  type: string;
  value: string;
  /**
   * Set when the value was written as a BER `#hexstring` (RFC 4514 §2.4); `value` then holds that
   * text verbatim (`#04024869`), because decoding it needs the attribute's ASN.1 syntax.
   */
  hexString?: boolean;
}

/** A parsed DN: RDNs from the leaf up, each a list of (usually one) type=value pairs. */
export type ParsedDn = DnAttribute[][];

export class DnError extends Error {
  /** What is wrong, without the DN itself (for messages that quote the DN their own way). */
  readonly reason: string;
  constructor(message: string, reason = message) {
    super(message);
    this.name = "DnError";
    this.reason = reason;
  }
}

/**
 * Escapes an attribute value for use in a DN string (RFC 4514 §2.4): `" + , ; < > \` anywhere,
 * `#` or space first, space last, NUL as `\00`. `=` is escaped too: RFC 4514 allows it (`special`)
 * and Active Directory lists it among the characters it wants escaped
 * (https://learn.microsoft.com/en-us/previous-versions/windows/desktop/ldap/distinguished-names).
 */
export function escapeDnValue(value: string): string {
  let out = "";
  const chars = [...value];
  chars.forEach((c, i) => {
    if (c === "\0") out += "\\00";
    else if ('"+,;<>\\='.includes(c)) out += "\\" + c;
    else if (i === 0 && (c === "#" || c === " ")) out += "\\" + c;
    else if (i === chars.length - 1 && c === " ") out += "\\ ";
    else out += c;
  });
  return out;
}

/** RFC 4515 §3 filter value escaping (`* ( ) \ NUL`, Buffers byte by byte), as ldapts does it. */
export function escapeFilterValue(value: string | Buffer): string {
  return Filter.escape(value);
}

/** One `type=value` as an escaped RDN string. */
export function formatRdn(attrs: DnAttribute[]): string {
  return attrs.map((a) => `${a.type}=${a.hexString ? a.value : escapeDnValue(a.value)}`).join("+");
}

/** A parsed DN back to a string, values escaped canonically. */
export function formatDn(dn: ParsedDn): string {
  return dn.map(formatRdn).join(",");
}

interface ScannedRdn {
  raw: string;
  attrs: DnAttribute[];
}

const HEX = /^[0-9a-fA-F]{2}$/;
// RFC 4512 §1.4 descr / numericoid; `OID.` prefix is RFC 2253 legacy some servers still echo.
const TYPE = /^(?:[A-Za-z][A-Za-z0-9-]*|(?:OID\.|oid\.)?\d+(?:\.\d+)*)$/;

/**
 * A bounded memo by DN string. A group delivery compares the same few DNs (the group's, the
 * members' it writes) several times per plan, once per SCIM change (measured: DN parsing was the
 * largest part of planning one member's modify on a 10,000-member group). A computation that
 * throws (a malformed DN) is not kept.
 *
 * Two generations, not a FIFO: evicting a Map's oldest key with keys().next() costs more as
 * deleted slots pile up at its front (measured: 5.4 µs per miss at 10,000 entries, against 1 µs
 * here). When the young generation is full it becomes the old one; a hit in the old one is
 * promoted. Memory stays within 2 × max entries.
 */
function memoByDn<V>(compute: (dn: string) => V, max = 10_000): (dn: string) => V {
  let young = new Map<string, V>();
  let old = new Map<string, V>();
  return (dn) => {
    let hit = young.get(dn);
    if (hit !== undefined) return hit;
    hit = old.get(dn) ?? compute(dn);
    if (young.size >= max) {
      old = young;
      young = new Map();
    }
    young.set(dn, hit);
    return hit;
  };
}

/** scanUncached, memoised; results are frozen, so no caller can alter a shared one. */
const scan = memoByDn((dn): readonly ScannedRdn[] =>
  Object.freeze(scanUncached(dn).map((r) => Object.freeze({ raw: r.raw, attrs: Object.freeze(r.attrs.map((a) => Object.freeze(a))) as DnAttribute[] }))),
);

/**
 * Scans a DN string into RDNs, keeping each RDN's source text so parentDn/rdnOf can hand back the
 * server's own spelling. Lenient where RFC 4514 §3 lets parsers be ("MAY recognize other DN string
 * representations"): spaces around `,` `+` `=` are skipped and RFC 2253 quoted values are accepted.
 */
function scanUncached(dn: string): ScannedRdn[] {
  const rdns: ScannedRdn[] = [];
  if (dn.trim() === "") return rdns;
  let i = 0;
  let rdnStart = 0;
  let attrs: DnAttribute[] = [];
  const fail = (why: string): never => {
    throw new DnError(`invalid DN ${JSON.stringify(dn)}: ${why} at offset ${i}`, why);
  };
  const skipSpaces = () => {
    while (dn[i] === " ") i++;
  };
  for (;;) {
    skipSpaces();
    const typeStart = i;
    while (i < dn.length && dn[i] !== "=" && dn[i] !== "," && dn[i] !== "+") i++;
    const type = dn.slice(typeStart, i).trim();
    if (dn[i] !== "=") fail("expected '=' after an attribute type");
    if (!TYPE.test(type)) fail(`bad attribute type ${JSON.stringify(type)}`);
    i++; // '='
    skipSpaces();
    let value: string;
    let hexString = false;
    let valueEnd = i;
    if (dn[i] === "#") {
      const start = i++;
      while (i < dn.length && /[0-9a-fA-F]/.test(dn[i] ?? "")) i++;
      if (i - start < 3 || (i - start - 1) % 2 !== 0) fail("bad #hexstring");
      value = dn.slice(start, i).toLowerCase();
      hexString = true;
      valueEnd = i;
    } else if (dn[i] === '"') {
      i++;
      const bytes: number[] = [];
      while (i < dn.length && dn[i] !== '"') i = readChar(dn, i, bytes, fail);
      if (dn[i] !== '"') fail("unterminated quoted value");
      i++;
      valueEnd = i;
      value = utf8(bytes);
    } else {
      const bytes: number[] = [];
      // Unescaped trailing spaces are not part of the value (RFC 4514 §2.4 requires them escaped).
      let keep = 0;
      while (i < dn.length && dn[i] !== "," && dn[i] !== "+") {
        const c = dn[i];
        // RFC 4514 §3 stringchar excludes these unescaped; `=` and inner `#` are allowed.
        if (c === ";" || c === "<" || c === ">" || c === '"') fail(`unescaped ${JSON.stringify(c)} in a value`);
        const escaped = c === "\\";
        i = readChar(dn, i, bytes, fail);
        if (escaped || c !== " ") {
          keep = bytes.length;
          valueEnd = i;
        }
      }
      value = utf8(bytes, keep);
    }
    attrs.push(hexString ? { type, value, hexString } : { type, value });
    skipSpaces();
    if (i >= dn.length || dn[i] === ",") {
      rdns.push({ raw: dn.slice(rdnStart, valueEnd).trimStart(), attrs });
      attrs = [];
      if (i >= dn.length) return rdns;
      i++;
      rdnStart = i;
    } else if (dn[i] === "+") {
      i++;
    } else {
      fail("expected ',' or '+'");
    }
  }
}

/** UTF-8 bytes to a string; short ASCII values (the common case) without a Buffer. */
function utf8(bytes: number[], end = bytes.length): string {
  // Spreading is bounded by the engine's argument limit: long values take the Buffer path.
  let ascii = end <= 1024;
  for (let k = 0; ascii && k < end; k++) if (bytes[k]! >= 0x80) ascii = false;
  return ascii ? String.fromCharCode(...bytes.slice(0, end)) : Buffer.from(bytes.slice(0, end)).toString("utf8");
}

/** Reads one (possibly escaped) character at `i` as UTF-8 bytes; returns the next offset. */
function readChar(dn: string, i: number, bytes: number[], fail: (why: string) => never): number {
  const code = dn.charCodeAt(i);
  // ASCII other than `\` is its own byte: no Buffer per character (a DN is mostly ASCII).
  if (code < 0x80 && code !== 0x5c) {
    bytes.push(code);
    return i + 1;
  }
  const c = dn[i] ?? "";
  if (c !== "\\") {
    const cp = dn.codePointAt(i) ?? 0;
    const ch = String.fromCodePoint(cp);
    bytes.push(...Buffer.from(ch, "utf8"));
    return i + ch.length;
  }
  const next = dn[i + 1];
  if (next === undefined) return fail("dangling '\\'");
  const pair = dn.slice(i + 1, i + 3);
  // RFC 4514 §3: `\` followed by a hexpair is one byte of a UTF-8 sequence (`\2C`, `\C3\A9`).
  if (HEX.test(pair)) {
    bytes.push(parseInt(pair, 16));
    return i + 3;
  }
  if (!` "#+,;<=>\\`.includes(next)) return fail(`bad escape '\\${next}'`);
  bytes.push(next.charCodeAt(0));
  return i + 2;
}

/** Parses a DN (RFC 4514 §3) into RDNs of unescaped values; throws DnError when malformed. */
export function parseDn(dn: string): ParsedDn {
  return scan(dn).map((r) => r.attrs);
}

/** True when `dn` parses as a DN. */
export function isValidDn(dn: string): boolean {
  try {
    scan(dn);
    return true;
  } catch {
    return false;
  }
}

/**
 * Case-folds a value the way caseIgnoreMatch does for the common naming attributes (cn, uid, ou,
 * dc, o): Unicode-compatible normalisation, lower case, insignificant spaces removed
 * (RFC 4518 §2.2 and §2.6.1).
 */
function foldValue(v: string): string {
  return v.normalize("NFKC").toLowerCase().replace(/\s+/g, " ").trim();
}

/**
 * A canonical spelling for comparison: types lower-cased, values unescaped, folded and re-escaped,
 * multi-valued RDNs sorted (their order is insignificant, RFC 4512 §2.3). Throws DnError.
 */
export const normalizeDn: (dn: string) => string = memoByDn(normalizeUncached);

function normalizeUncached(dn: string): string {
  return parseDn(dn)
    .map((rdn) =>
      rdn
        .map((a) => ({ ...a, type: a.type.toLowerCase().replace(/^oid\./, ""), value: a.hexString ? a.value : foldValue(a.value) }))
        .sort((x, y) => {
          const [a, b] = [`${x.type}=${x.value}`, `${y.type}=${y.value}`];
          return a < b ? -1 : a > b ? 1 : 0;
        }),
    )
    .map(formatRdn)
    .join(",");
}

/** The key sync_state.dn_key holds: the normalised DN, or the DN itself when it does not parse. */
export function dnKey(dn: string): string {
  try {
    return normalizeDn(dn);
  } catch {
    return dn;
  }
}

/** Whether two DNs name the same entry (ldap-targets.md §5.1); unparsable DNs only equal themselves. */
export function sameDn(a: string, b: string): boolean {
  try {
    return normalizeDn(a) === normalizeDn(b);
  } catch {
    return a === b;
  }
}

/**
 * Whether two DNs are spelled alike: the same RDNs with the same values character for character
 * once unescaped (types compare case-insensitively, escaping and RDN order inside a multi-valued
 * RDN do not count). Stricter than sameDn: `uid=Dan` and `uid=dan` name one entry (caseIgnoreMatch,
 * RFC 4517 §4.2.11) but are spelled differently, which a case-only rename must still write
 * (ldap-targets.md §7). Unparsable DNs only equal themselves.
 */
export function sameDnSpelling(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    const spelled = (dn: string) =>
      parseDn(dn)
        .map((rdn) =>
          rdn
            .map((x) => `${x.type.toLowerCase().replace(/^oid\./, "")}=${x.value}`)
            .sort()
            .join("\u0000+"),
        )
        .join("\u0000,");
    return spelled(a) === spelled(b);
  } catch {
    return false;
  }
}

/** The DN above `dn`, in the caller's spelling; "" for a single-RDN DN. Throws DnError. */
export function parentDn(dn: string): string {
  return scan(dn)
    .slice(1)
    .map((r) => r.raw)
    .join(",");
}

/** The first (leaf) RDN of `dn`, still escaped, in the caller's spelling. Throws DnError. */
export function rdnOf(dn: string): string {
  const first = scan(dn)[0];
  if (!first) throw new DnError("the empty DN has no RDN");
  return first.raw;
}
