/**
 * Which database errors mean "retry later" (db/busy.ts) on either engine: the SCIM edge answers
 * them 503 with Retry-After (server/http/database-busy.ts), never 500. Errors built as the drivers
 * build them: better-sqlite3's SqliteError, node-postgres's DatabaseError fields, socket errors,
 * and drizzle's wrapping with `cause`.
 */
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { isDatabaseBusy } from "../../db/busy.js";
import { databaseBusyError } from "../../server/http/database-busy.js";

const pgError = (code: string, message = "error") => Object.assign(new Error(message), { code, severity: "ERROR" });
const wrapped = (cause: unknown) => new Error("Failed query: update users …", { cause });

describe("isDatabaseBusy", () => {
  it.each([
    ["SQLite busy", new Database.SqliteError("database is locked", "SQLITE_BUSY")],
    ["SQLite busy snapshot", new Database.SqliteError("database is locked", "SQLITE_BUSY_SNAPSHOT")],
    ["PostgreSQL lock timeout", pgError("55P03", "canceling statement due to lock timeout")],
    ["PostgreSQL deadlock", pgError("40P01", "deadlock detected")],
    ["PostgreSQL serialization failure", pgError("40001")],
    ["PostgreSQL too many connections", pgError("53300")],
    ["PostgreSQL shutting down", pgError("57P01", "terminating connection due to administrator command")],
    ["PostgreSQL connection failure class", pgError("08006")],
    ["connection refused", Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" })],
    ["connection lost under a query", new Error("Connection terminated unexpectedly")],
    ["pool exhausted", new Error("timeout exceeded when trying to connect")],
  ])("%s is retryable, also wrapped by drizzle", (_name, e) => {
    expect(isDatabaseBusy(e)).toBe(true);
    expect(isDatabaseBusy(wrapped(e))).toBe(true);
    expect(databaseBusyError(wrapped(e))?.status).toBe(503);
  });

  it.each([
    ["a unique violation", pgError("23505")],
    ["a syntax error", pgError("42601")],
    ["SQLite constraint", new Database.SqliteError("UNIQUE constraint failed", "SQLITE_CONSTRAINT_UNIQUE")],
    ["a plain error", new Error("something else")],
    ["not an error", "busy"],
  ])("%s is not", (_name, e) => {
    expect(isDatabaseBusy(e)).toBe(false);
    expect(databaseBusyError(e)).toBeUndefined();
  });
});
