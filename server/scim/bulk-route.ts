/**
 * POST /Bulk (RFC 7644 §3.7): thin, like routes.ts. Checks the declared size, runs the request
 * through runBulk, answers 200 with the BulkResponse (§3.7.3: the per-operation statuses are in it).
 */
import type { RequestHandler } from "express";
import { ScimError } from "../../schemas/errors.js";
import { sendScim } from "../http/scim-response.js";
import type { Logger } from "../logger.js";
import { runBulk, type BulkLimits } from "./bulk.js";
import { contextOf, type BaseUrlOf } from "./routes.js";
import type { ResourceService } from "./service.js";

/** The handler for POST {base}/Bulk; limits are the effective ones (see app.ts). */
export function bulkHandler(service: ResourceService, limits: BulkLimits, baseUrlOf: BaseUrlOf, logger: Logger): RequestHandler {
  return async (req, res) => {
    // §3.7.4: a payload over maxPayloadSize is 413. Content-Length is exact when sent; runBulk also
    // measures the parsed body for chunked requests. The global JSON parser (server.maxBodyBytes)
    // has already refused anything larger than its own limit, which is why the advertised
    // maxPayloadSize is the smaller of the two.
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > limits.maxPayloadSize) {
      throw new ScimError(413, undefined, `The size of the bulk operation exceeds the maxPayloadSize (${limits.maxPayloadSize}).`);
    }
    const result = await runBulk(service, req.body, contextOf(req, baseUrlOf), limits, {
      onUnexpected: (err, operationIndex) => logger.error({ err, reqId: req.id, operationIndex }, "bulk operation failed"),
    });
    sendScim(req, res, 200, result);
  };
}
