/**
 * Recognising a unique-constraint violation whatever the engine, so the SCIM service can answer
 * 409 uniqueness (RFC 7644 §3.3, §3.12) rather than 500: SQLite's extended code
 * SQLITE_CONSTRAINT_UNIQUE (https://www.sqlite.org/rescode.html#constraint_unique) and
 * PostgreSQL's SQLSTATE 23505 unique_violation
 * (https://www.postgresql.org/docs/15/errcodes-appendix.html).
 * drizzle wraps a failed query's error in a DrizzleQueryError whose `cause` is the driver's, so
 * the chain of causes is followed.
 */

const UNIQUE_CODES = new Set(["SQLITE_CONSTRAINT_UNIQUE", "23505"]);

/** Whether `e`, or an error it wraps as `cause`, is a unique violation of either engine. */
export function isUniqueViolation(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; typeof cur === "object" && cur !== null && depth < 5; cur = (cur as { cause?: unknown }).cause, depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === "string" && UNIQUE_CODES.has(code)) return true;
  }
  return false;
}
