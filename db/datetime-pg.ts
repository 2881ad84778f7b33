/**
 * schemas/filter/match.ts normalizeDateTime() in PostgreSQL: an xsd:dateTime string (RFC 7643
 * §2.3.5) to `YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC, NULL for anything else, and never an error, so a
 * filter on a JSON value that is not a date is false rather than a 500.
 *
 * A cast (`::timestamptz`) would raise on a value such as "2024-13-01" or "yesterday", and
 * PostgreSQL 15 has no error-free input test (pg_input_is_valid is 16). So the value is matched
 * with the same pattern as match.ts, checked against the ranges V8's Date.parse accepts (day 1-31
 * whatever the month, hour 24 only at 24:00:00.000, offsets to ±23:59), and the instant is built
 * by interval arithmetic from 2000-01-01, which rolls over (April 31 is May 1) as Date.parse does
 * and cannot fail on these digits. As in match.ts, a value without an offset is UTC and one in UTC
 * whose date rolled over is not a date. CASE guarantees the order of those checks
 * (https://www.postgresql.org/docs/15/sql-expressions.html#SYNTAX-EXPRESS-EVAL).
 *
 * Known difference: match.ts also accepts instants before year 1 or after 9999 ("0000-01-01",
 * "9999-12-31T23:00:00-02:00", written "+010000-…" by toISOString); here they are NULL.
 */
import { sql, type SQL } from "drizzle-orm";

// Groups: 1 year, 2 month, 3 day, 4 hour, 5 minute, 6 second, 7 fraction, 8 offset, 9 sign, 10-11 offset hh:mm.
const DATE_TIME = String.raw`^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?([Zz]|([+-])(\d{2}):(\d{2}))?$`;

const n = (group: number): SQL => sql.raw(`coalesce("m"[${group}], '0')::int`);
/** Milliseconds: the first three digits of the fraction, as match.ts truncates it. */
const MS = sql.raw(`left(coalesce("m"[7], '') || '000', 3)::int`);

/** The normalised instant of the text expression `text`, or NULL (never an error). */
export function normalizeDateTimeSql(text: SQL): SQL {
  const outOfRange = sql`${n(2)} NOT BETWEEN 1 AND 12 OR ${n(3)} NOT BETWEEN 1 AND 31 OR ${n(4)} > 24 OR ${n(5)} > 59 OR ${n(6)} > 59 OR ${n(10)} > 23 OR ${n(11)} > 59 OR (${n(4)} = 24 AND (${n(5)} > 0 OR ${n(6)} > 0 OR ${MS} > 0))`;
  const offset = sql`CASE WHEN "m"[9] = '-' THEN -1 ELSE 1 END * make_interval(hours => ${n(10)}, mins => ${n(11)})`;
  const instant = sql`timestamp '2000-01-01' + make_interval(years => ${n(1)} - 2000, months => ${n(2)} - 1, days => ${n(3)} - 1, hours => ${n(4)}, mins => ${n(5)}, secs => ${n(6)}) + ${MS} * interval '1 millisecond' - ${offset}`;
  // A UTC value whose date changed (2024-02-30, 24:00) is not one Date.parse took as written.
  const keeps = sql`("m"[9] IS NOT NULL OR to_char("t", 'YYYY-MM-DD') = "m"[1] || '-' || "m"[2] || '-' || "m"[3])`;
  const format = sql`to_char("t", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
  const valid = sql`(SELECT CASE WHEN "t" >= timestamp '0001-01-01' AND "t" < timestamp '10000-01-01' AND ${keeps} THEN ${format} END FROM (SELECT ${instant} AS "t") AS "i")`;
  return sql`(SELECT CASE WHEN "m" IS NULL OR ${outOfRange} THEN NULL ELSE ${valid} END FROM regexp_match(${text}, ${DATE_TIME}) AS "r"("m"))`;
}
