/**
 * One structured log line per request, with a request id. Bodies and the Authorization header are
 * never logged: they carry passwords and tokens.
 */
import { randomUUID } from "node:crypto";
import type { RequestHandler } from "express";
import type { Logger } from "pino";

declare module "express-serve-static-core" {
  interface Request {
    id?: string;
    /** Name of the authenticated client (token name, Basic user or OAuth client). */
    scimClient?: string;
  }
}

const SAFE_ID = /^[\w.:-]{1,64}$/;

export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.headers["x-request-id"];
    req.id = typeof incoming === "string" && SAFE_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader("X-Request-Id", req.id);
    const started = process.hrtime.bigint();
    res.on("finish", () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      logger.info(
        { reqId: req.id, method: req.method, path: req.originalUrl.split("?")[0], status: res.statusCode, ms: Math.round(ms * 10) / 10, client: req.scimClient },
        "request",
      );
    });
    next();
  };
}
