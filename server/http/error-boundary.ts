/**
 * The one error boundary for the SCIM edge. Known conditions arrive as ScimError (or as the body
 * parser's and filter parser's typed errors) and keep their status and scimType; anything else is
 * a 500 with a generic detail and the cause in the log — never a 404 (an IdP told "not found"
 * may create a duplicate, scimmy-pitfalls.md) and never a stack trace on the wire.
 */
import type { ErrorRequestHandler } from "express";
import type { Logger } from "pino";
import { ScimError } from "../../schemas/errors.js";
import { FilterError } from "../../schemas/filter/ast.js";
import { databaseBusyError } from "./database-busy.js";
import { INVALID_UTF8, TOO_DEEP } from "./json-body.js";
import { errorBody, sendScim } from "./scim-response.js";

interface BodyParserError {
  type?: string;
  status?: number;
  limit?: number;
  /** http-errors' flag: the status describes the request, not a server fault. */
  expose?: boolean;
  message?: string;
}

export function errorBoundary(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    if (res.headersSent) {
      logger.error({ err, reqId: req.id }, "error after response started");
      res.end();
      return;
    }
    // Another connection (a CLI command on the same file) held the write lock past busy_timeout,
    // or the disk is full or read-only: the service is unavailable for writes, not broken.
    const busy = databaseBusyError(err);
    if (busy) {
      logger.warn({ err, reqId: req.id }, "database unavailable for writes");
      res.setHeader("Retry-After", String(busy.retryAfterSeconds));
      sendScim(req, res, busy.status, errorBody(busy.status, busy.detail));
      return;
    }
    if (err instanceof ScimError) {
      if (err.status >= 500) logger.error({ err, reqId: req.id }, "request failed");
      sendScim(req, res, err.status, errorBody(err.status, err.detail, err.scimType));
      return;
    }
    // The router decodes path parameters with decodeURIComponent and passes its URIError on
    // (status 400, not exposed): `%E0%A4%A` is not percent-encoded UTF-8 (RFC 3986 §2.1, §2.5).
    if (err instanceof URIError) {
      sendScim(req, res, 400, errorBody(400, "the request path is not valid percent-encoded UTF-8 (RFC 3986 §2.5)"));
      return;
    }
    if (err instanceof FilterError) {
      sendScim(req, res, 400, errorBody(400, err.message, "invalidFilter"));
      return;
    }
    const bp = err as BodyParserError;
    if (bp?.type === "entity.parse.failed") {
      sendScim(req, res, 400, errorBody(400, "request body is not valid JSON", "invalidSyntax"));
      return;
    }
    if (bp?.type === INVALID_UTF8 || bp?.type === TOO_DEEP) {
      sendScim(req, res, 400, errorBody(400, bp.message ?? "the request body is not valid UTF-8", "invalidSyntax"));
      return;
    }
    if (bp?.type === "entity.too.large") {
      sendScim(req, res, 413, errorBody(413, `request body exceeds the limit of ${bp.limit} bytes`));
      return;
    }
    if (bp?.type === "encoding.unsupported" || bp?.type === "charset.unsupported") {
      sendScim(req, res, 415, errorBody(415, "unsupported request body encoding"));
      return;
    }
    // Any other client error from reading the body (a gzip body that is not gzip, a request cut
    // short): the request is at fault, so a 4xx, not a 500.
    if (bp?.expose === true && typeof bp.status === "number" && bp.status >= 400 && bp.status < 500) {
      sendScim(req, res, bp.status, errorBody(bp.status, `the request body could not be read: ${bp.message ?? "malformed"}`, bp.status === 400 ? "invalidSyntax" : undefined));
      return;
    }
    logger.error({ err, reqId: req.id }, "internal error");
    sendScim(req, res, 500, errorBody(500, `internal server error (request id ${req.id ?? "unknown"})`));
  };
}
