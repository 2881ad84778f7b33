/**
 * scim_fold() in PostgreSQL (db/fold-pg.ts) against fold() in JavaScript (schemas/fold.ts) on a
 * real PostgreSQL: a corpus of strings whose folding depends on context or expands (İ, final
 * sigma, NFD pairs), then every code point alone. They must agree except for the code points listed
 * below, which are listed exactly: a change on either side (a new ICU in PostgreSQL or in Node)
 * fails the test until the list is updated, so no difference goes unnoticed.
 */
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CREATE_PG_FOLD_FUNCTION } from "../../db/fold-pg.js";
import { fold } from "../../schemas/fold.js";
import { usePostgres } from "../harness/postgres.js";

const pg = usePostgres();
let client: Client;

beforeAll(async () => {
  client = new Client({ connectionString: pg.url });
  await client.connect();
  await client.query(CREATE_PG_FOLD_FUNCTION);
});

afterAll(async () => {
  await client?.end();
});

const pgFold = async (expr: string, value: string): Promise<string> =>
  (await client.query<{ f: string }>(`SELECT ${expr} AS f`, [value])).rows[0]!.f;

/** Strings whose fold needs more than a per-code-point table: expansion, context, composition. */
const CORPUS: [string, string][] = [
  ["ASCII", "Alice SMITH"],
  ["Turkish dotted capital I: one code point to two (i + U+0307)", "\u0130LKAY"],
  ["Turkish dotless i and I", "\u0131I"],
  ["final sigma at the end of a word", "\u03a3\u0391\u03a3"],
  ["final sigma inside a phrase", "\u039f\u0394\u03a5\u03a3\u03a3\u0395\u03a5\u03a3 \u039a\u0391\u0399"],
  ["sharp s stays", "STRA\u00dfE"],
  ["capital sharp s", "\u1e9e"],
  ["NFD e + U+0301 composes", "E\u0301MILE"],
  ["NFD lower-case pair", "e\u0301"],
  ["Hangul jamo compose", "\u1100\u1161"],
  ["Greek with tonos", "\u0386\u0388\u0391\u0398\u0397\u039d\u0391"],
  ["Greek titlecase with ypogegrammeni", "\u1f88"],
  ["Greek iota subscript", "\u0345"],
  ["Cyrillic", "\u041c\u041e\u0421\u041a\u0412\u0410 \u0401"],
  ["Armenian", "\u0540\u0531\u0545\u0531\u054d\u054f\u0531\u0546"],
  ["Georgian Mtavruli", "\u1c92\u1c90\u1c93\u1c90"],
  ["Cherokee capitals and a small letter", "\u13a0\u13a1\u13a2 \uab70"],
  ["ligatures stay", "\ufb01 \ufb00"],
  ["Deseret (astral)", "\ud801\udc00\ud801\udc01"],
  ["emoji (astral, no case)", "\ud83d\ude00 A"],
  ["title-case and capital digraphs", "\u01c5 \u01c4 \u01c8"],
  ["Angstrom, Kelvin, Ohm signs", "\u212b\u212a\u2126"],
  ["full-width Latin", "\uff21\uff22"],
  ["Adlam (astral)", "\ud83a\udd00"],
  ["long s with dot and dot below", "\u1e9b\u0323"],
];

/**
 * The code points scim_fold() leaves as they are while fold() lowers them, measured with
 * PostgreSQL 15 on Debian 12's ICU 72 (Unicode 15.0) and Node's ICU 78 (Unicode 17): capitals
 * added in Unicode 16 and 17. Inclusive ranges.
 */
const KNOWN_DIFFERENCES: [number, number][] = [
  [0x1c89, 0x1c89], // CYRILLIC CAPITAL LETTER TJE (Unicode 16)
  [0xa7cb, 0xa7cc], // LATIN CAPITAL LETTER RAMS HORN, S WITH DIAGONAL STROKE (16)
  [0xa7ce, 0xa7ce], // Latin Extended-D capitals (17)
  [0xa7d2, 0xa7d2],
  [0xa7d4, 0xa7d4],
  [0xa7da, 0xa7da], // LATIN CAPITAL LETTER LAMBDA (16)
  [0xa7dc, 0xa7dc], // LATIN CAPITAL LETTER LAMBDA WITH STROKE (16)
  [0x10d50, 0x10d65], // Garay capitals (16)
  [0x16ea0, 0x16eb8], // Beria Erfe capitals (17)
];

const hex = (s: string): string => [...s].map((c) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`).join(" ");

describe("scim_fold() equals fold()", () => {
  it.each(CORPUS)("%s", async (_name, value) => {
    expect(hex(await pgFold("scim_fold($1)", value))).toBe(hex(fold(value)));
  });

  it("on every code point except the known differences, and differs on each of those", async () => {
    // One query for all of them (about 2 s); surrogates are not characters (chr() refuses them).
    const { rows } = await client.query<{ cp: number; f: string }>(
      "SELECT cp, scim_fold(chr(cp)) AS f FROM generate_series(1, 1114111) AS cp WHERE cp NOT BETWEEN 55296 AND 57343",
    );
    expect(rows.length).toBe(0x10ffff - 2048);
    const differing: number[] = [];
    for (const { cp, f } of rows) if (f !== fold(String.fromCodePoint(cp))) differing.push(cp);
    const known = KNOWN_DIFFERENCES.flatMap(([from, to]) => Array.from({ length: to - from + 1 }, (_, i) => from + i));
    expect(differing.map((cp) => cp.toString(16))).toEqual(known.map((cp) => cp.toString(16)));
  }, 60_000);

  it("is not what libc's lower() gives: it maps one code point at a time", async () => {
    // Why ICU: under libc (C.utf8) İ loses its dot above and every Σ becomes σ.
    expect(hex(await pgFold(`lower(normalize($1, NFC) COLLATE "C.utf8")`, "\u0130"))).toBe("U+0069");
    expect(hex(await pgFold(`lower(normalize($1, NFC) COLLATE "C.utf8")`, "\u03a3\u0391\u03a3"))).toBe("U+03C3 U+03B1 U+03C3");
    expect(hex(fold("\u0130"))).toBe("U+0069 U+0307");
    expect(hex(fold("\u03a3\u0391\u03a3"))).toBe("U+03C3 U+03B1 U+03C2");
  });
});
