/**
 * scim_fold(text) for PostgreSQL: schemas/fold.ts fold() (NFC, then JavaScript's toLowerCase) as
 * an SQL function, so caseExact=false values inside `data` compare folded exactly like the *_key
 * columns the application fills with fold() (RFC 7643 §2.2).
 *
 * lower() under the ICU root collation ("und-x-icu") is ICU's full case mapping (u_strToLower), as
 * JavaScript's: İ becomes "i̇" (two code points), a final Σ becomes ς, ẞ becomes ß, and title-case
 * digraphs, Georgian Mtavruli, Cherokee and astral scripts fold. lower() under libc ("C.utf8",
 * en_US) maps one code point at a time (İ → i, Σ → σ always), and under "C" folds ASCII only:
 * measured in test/db/fold-parity.test.ts. normalize() needs a UTF8 database.
 *
 * Known differences, measured on every code point by test/db/fold-parity.test.ts (PostgreSQL 15
 * with Debian 12's ICU 72, Unicode 15.0, against Node 20's ICU 78, Unicode 17): 55 capitals added
 * in Unicode 16 and 17 do not fold here: U+1C89 (Cyrillic Tje), U+A7CB, U+A7CC, U+A7CE, U+A7D2,
 * U+A7D4, U+A7DA, U+A7DC (Latin), U+10D50-U+10D65 (Garay), U+16EA0-U+16EB8 (Beria Erfe). A
 * *_key column written by fold() holds their folded form while scim_fold() of the same value does
 * not; scim_fold() is only used on values inside `data` (userName, displayName and emails have key
 * columns), so such a value there matches a filter only in its own case.
 *
 * IMMUTABLE is what lets the planner fold constants and an index be built on it; it holds for one
 * ICU version. After an ICU upgrade that changes case mappings, an index over scim_fold() must be
 * rebuilt (REINDEX), as for any ICU collation (https://www.postgresql.org/docs/15/collation.html).
 */
import { FOLD_SQL_FUNCTION } from "../schemas/fold.js";

/** Creates (or replaces) scim_fold(text); the database must be UTF8 and PostgreSQL built with ICU. */
export const CREATE_PG_FOLD_FUNCTION = `CREATE OR REPLACE FUNCTION ${FOLD_SQL_FUNCTION}(text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
RETURN lower(normalize($1, NFC) COLLATE "und-x-icu")`;
