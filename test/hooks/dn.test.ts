// RFC 4514 DN strings and RFC 4515 filter values; server forms measured in ldap-targets.md §5.1.
import { describe, expect, it } from "vitest";
import {
  DnError,
  escapeDnValue,
  escapeFilterValue,
  formatDn,
  isValidDn,
  normalizeDn,
  parentDn,
  parseDn,
  rdnOf,
  sameDn,
  sameDnSpelling,
} from "../../hooks/ldap/dn.js";

describe("escapeDnValue (RFC 4514 §2.4)", () => {
  it.each([
    ["plain", "jdoe", "jdoe"],
    ["comma", "Smith, John", "Smith\\, John"],
    ["all specials", 'a+b,c;d<e>f"g\\h', 'a\\+b\\,c\\;d\\<e\\>f\\"g\\\\h'],
    ["equals (AD wants it escaped)", "a=b", "a\\=b"],
    ["leading #", "#hash", "\\#hash"],
    ["inner # untouched", "a#b", "a#b"],
    ["leading space", " lead", "\\ lead"],
    ["trailing space", "trail ", "trail\\ "],
    ["single space", " ", "\\ "],
    ["inner spaces untouched", "a  b", "a  b"],
    ["NUL", "a\0b", "a\\00b"],
    ["non-ASCII kept as UTF-8", "Zoë Ångström", "Zoë Ångström"],
    ["astral plane", "😀 x", "😀 x"],
    ["empty", "", ""],
  ])("%s", (_name, input, expected) => {
    expect(escapeDnValue(input)).toBe(expected);
  });

  it.each(["Smith, John", ' #a+b=c<d>;"q"\\e ', "x\0y", "Zoë", " ", "##", "a\\,b"])("round-trips %j through parseDn", (v) => {
    expect(parseDn(`cn=${escapeDnValue(v)},dc=example,dc=com`)[0]).toEqual([{ type: "cn", value: v }]);
  });
});

describe("parseDn (RFC 4514 §3)", () => {
  it.each([
    ["empty DN is the root", "", []],
    ["simple", "uid=jdoe,ou=people,dc=example,dc=com", [[{ type: "uid", value: "jdoe" }], [{ type: "ou", value: "people" }], [{ type: "dc", value: "example" }], [{ type: "dc", value: "com" }]]],
    ["escaped comma", "cn=Smith\\, John,dc=x", [[{ type: "cn", value: "Smith, John" }], [{ type: "dc", value: "x" }]]],
    ["hex-escaped comma (OpenLDAP's form)", "cn=Smith\\2C John,dc=x", [[{ type: "cn", value: "Smith, John" }], [{ type: "dc", value: "x" }]]],
    ["hex UTF-8 sequence", "cn=Zo\\C3\\AB,dc=x", [[{ type: "cn", value: "Zoë" }], [{ type: "dc", value: "x" }]]],
    ["multi-valued RDN", "cn=John+uid=jd,dc=x", [[{ type: "cn", value: "John" }, { type: "uid", value: "jd" }], [{ type: "dc", value: "x" }]]],
    ["spaces around separators tolerated", "cn = a , dc = x", [[{ type: "cn", value: "a" }], [{ type: "dc", value: "x" }]]],
    ["escaped trailing space kept", "cn=a\\ ,dc=x", [[{ type: "cn", value: "a " }], [{ type: "dc", value: "x" }]]],
    ["\\20 leading space (OpenLDAP's normal form)", "cn=\\20lead,dc=x", [[{ type: "cn", value: " lead" }], [{ type: "dc", value: "x" }]]],
    ["RFC 2253 quoted value (ldapts DN class)", 'cn=" lead, x",dc=x', [[{ type: "cn", value: " lead, x" }], [{ type: "dc", value: "x" }]]],
    ["#hexstring kept verbatim", "uid=#04024869,dc=x", [[{ type: "uid", value: "#04024869", hexString: true }], [{ type: "dc", value: "x" }]]],
    ["unescaped = allowed in a value", "cn=a=b,dc=x", [[{ type: "cn", value: "a=b" }], [{ type: "dc", value: "x" }]]],
    ["numeric OID type", "2.5.4.3=x,dc=y", [[{ type: "2.5.4.3", value: "x" }], [{ type: "dc", value: "y" }]]],
    ["raw UTF-8 beside ASCII", "cn=Zoë Ångström,dc=x", [[{ type: "cn", value: "Zoë Ångström" }], [{ type: "dc", value: "x" }]]],
    ["astral-plane character", "cn=a😀b,dc=x", [[{ type: "cn", value: "a😀b" }], [{ type: "dc", value: "x" }]]],
    ["AD style upper case", "CN=Doe\\, John,OU=Users,DC=test,DC=example,DC=com", [[{ type: "CN", value: "Doe, John" }], [{ type: "OU", value: "Users" }], [{ type: "DC", value: "test" }], [{ type: "DC", value: "example" }], [{ type: "DC", value: "com" }]]],
  ])("%s", (_name, dn, expected) => {
    expect(parseDn(dn)).toEqual(expected);
  });

  it("parses a value longer than the ASCII fast path takes (no argument-limit crash)", () => {
    const long = "x".repeat(300_000);
    expect(parseDn(`cn=${long},dc=x`)[0]![0]!.value).toBe(long);
    expect(parseDn(`cn=${"é".repeat(2000)},dc=x`)[0]![0]!.value).toBe("é".repeat(2000));
  });

  it("stays right past the memo's bound (entries age out and come back)", () => {
    // More distinct DNs than the memo keeps (10,000 per generation), then the first ones again.
    for (let i = 0; i < 25_000; i++) expect(parseDn(`uid=u${i},dc=x`)[0]![0]!.value).toBe(`u${i}`);
    for (let i = 0; i < 100; i++) expect(normalizeDn(`UID=U${i},DC=X`)).toBe(`uid=u${i},dc=x`);
  });

  it.each([
    ["no =", "cn,dc=x"],
    ["bad type", "c n=x,dc=y"],
    ["unescaped ;", "cn=a;b,dc=x"],
    ["unescaped <", "cn=a<b"],
    ["unescaped quote", 'cn=a"b'],
    ["dangling backslash", "cn=a\\"],
    ["bad escape", "cn=a\\q"],
    ["empty RDN", "cn=a,,dc=x"],
    ["odd hexstring", "cn=#123"],
    ["unterminated quote", 'cn="abc'],
  ])("rejects %s", (_name, dn) => {
    expect(() => parseDn(dn)).toThrow(DnError);
    expect(isValidDn(dn)).toBe(false);
  });
});

describe("normalizeDn / sameDn (ldap-targets.md §5.1: never compare DN strings)", () => {
  it.each([
    ["OpenLDAP hex form vs ours", "cn=Smith\\2C John,dc=example,dc=com", "cn=Smith\\, John,dc=example,dc=com"],
    ["AD upper-case types and values", "CN=Doe\\, John,OU=Users,DC=Test", "cn=doe\\, john,ou=users,dc=test"],
    ["\\23 vs \\#", "cn=\\23hash,dc=x", "cn=\\#hash,dc=x"],
    ["measured OpenLDAP form of a+b=c<d>;\"q\"\\e", "cn=a\\2Bb\\3Dc\\3Cd\\3E\\3B\\22q\\22\\5Ce,dc=x", 'cn=a\\+b=c\\<d\\>\\;\\"q\\"\\\\e,dc=x'],
    ["spaces after commas", "uid=a, ou=people, dc=x", "uid=a,ou=people,dc=x"],
    ["multi-valued RDN order", "cn=a+uid=b,dc=x", "uid=b+cn=a,dc=x"],
    ["quoted legacy vs RFC 4514", 'cn=" lead",dc=x', "cn=\\20lead,dc=x"],
    ["insignificant inner spaces", "cn=John  Smith,dc=x", "cn=john smith,dc=x"],
  ])("same: %s", (_name, a, b) => {
    expect(sameDn(a, b)).toBe(true);
    expect(normalizeDn(a)).toBe(normalizeDn(b));
  });

  it.each([
    ["different value", "uid=a,dc=x", "uid=b,dc=x"],
    ["different parent", "uid=a,ou=x,dc=x", "uid=a,ou=y,dc=x"],
    ["escaped comma is not a separator", "cn=a\\,dc=x", "cn=a,dc=x"],
    ["unparsable compares as text", "cn=a;b", "cn=a\\;b"],
  ])("different: %s", (_name, a, b) => {
    expect(sameDn(a, b)).toBe(false);
  });

  it("normal form is lower-case and re-escaped", () => {
    expect(normalizeDn("CN=Smith\\2C John,DC=Example")).toBe("cn=smith\\, john,dc=example");
  });
});

describe("sameDnSpelling: the same entry spelled alike (a case-only rename is a change, ldap-targets.md §7)", () => {
  it.each([
    ["OpenLDAP hex form vs ours", "cn=Smith\\2C John,dc=example,dc=com", "cn=Smith\\, John,dc=example,dc=com"],
    ["types in another case", "UID=Dan,OU=people,DC=x", "uid=Dan,ou=people,dc=x"],
    ["spaces after commas", "uid=a, ou=people, dc=x", "uid=a,ou=people,dc=x"],
    ["multi-valued RDN order", "cn=a+uid=b,dc=x", "uid=b+cn=a,dc=x"],
  ])("alike: %s", (_name, a, b) => {
    expect(sameDnSpelling(a, b)).toBe(true);
  });

  it.each([
    ["a case-only rename", "uid=Dan,ou=people,dc=x", "uid=dan,ou=people,dc=x"],
    ["a parent in another case", "uid=a,ou=People,dc=x", "uid=a,ou=people,dc=x"],
    ["inner spaces", "cn=John  Smith,dc=x", "cn=John Smith,dc=x"],
    ["another entry", "uid=a,dc=x", "uid=b,dc=x"],
    ["unparsable", "cn=a;b", "cn=a\\;b"],
  ])("spelled differently: %s", (_name, a, b) => {
    expect(sameDnSpelling(a, b)).toBe(false);
  });
});

describe("parentDn / rdnOf keep the caller's spelling", () => {
  it.each([
    ["uid=jdoe,ou=people,dc=x", "uid=jdoe", "ou=people,dc=x"],
    ["cn=Smith\\2C John,ou=people,dc=x", "cn=Smith\\2C John", "ou=people,dc=x"],
    ["cn=a\\,b,dc=x", "cn=a\\,b", "dc=x"],
    ["cn=trail\\ ,dc=x", "cn=trail\\ ", "dc=x"],
    ["cn=a+uid=b,dc=x", "cn=a+uid=b", "dc=x"],
    ["dc=com", "dc=com", ""],
  ])("%s", (dn, rdn, parent) => {
    expect(rdnOf(dn)).toBe(rdn);
    expect(parentDn(dn)).toBe(parent);
  });

  it("rdnOf of the empty DN throws", () => {
    expect(() => rdnOf("")).toThrow(DnError);
  });
});

describe("formatDn", () => {
  it("escapes values and keeps #hexstrings", () => {
    expect(formatDn([[{ type: "cn", value: "a,b" }, { type: "uid", value: "#x" }], [{ type: "dc", value: "x" }]])).toBe("cn=a\\,b+uid=\\#x,dc=x");
    expect(formatDn([[{ type: "uid", value: "#0401", hexString: true }]])).toBe("uid=#0401");
  });
});

describe("escapeFilterValue (RFC 4515 §3)", () => {
  it.each([
    ["plain", "jdoe", "jdoe"],
    ["star", "*", "\\2a"],
    ["injection attempt", "*)(uid=*", "\\2a\\29\\28uid=\\2a"],
    ["backslash", "a\\b", "a\\5cb"],
    ["NUL", "a\0b", "a\\00b"],
  ])("%s", (_name, input, expected) => {
    expect(escapeFilterValue(input)).toBe(expected);
  });

  it("escapes a binary GUID byte by byte", () => {
    expect(escapeFilterValue(Buffer.from([0x01, 0xab, 0x00]))).toBe("\\01\\ab\\00");
  });
});
