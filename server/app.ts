/**
 * createApp: the HTTP application, with every dependency passed in (style.md). Order matters:
 * request id and log → path normalisation → body parsing → authentication → SCIM routes →
 * admin API and page → 404 → the one error boundary.
 */
import type { IncomingMessage } from "node:http";
import express, { type Express, type Request } from "express";
import type { Store } from "../db/open.js";
import { ScimError } from "../schemas/errors.js";
import { SchemaRegistry } from "../schemas/registry.js";
import { adminRouter, type AdminDeps } from "./admin/routes.js";
import { AccessTokens } from "./auth/jwt.js";
import { authenticate, type AuthOptions } from "./auth/middleware.js";
import { authorize } from "./auth/scopes.js";
import { FailureThrottle } from "./auth/throttle.js";
import { baseUrlResolver, rejectRepeatedHost } from "./http/host.js";
import { secretKeyOf } from "./secret-key.js";
import { tokenEndpoint, tokenEndpointErrors } from "./auth/oauth.js";
import { TokenService } from "./auth/tokens.js";
import type { Config } from "./config/schema.js";
import { jsonBody } from "./http/json-body.js";
import { errorBoundary } from "./http/error-boundary.js";
import { normalizePathMiddleware } from "./http/normalize-path.js";
import { observabilityRouter, type TargetsHealth } from "./observability/health.js";
import { createMetrics, type Metrics } from "./observability/metrics.js";
import { requestLog } from "./http/request-log.js";
import { AuditLog, auditScimWrites } from "./observability/audit.js";
import { TrafficInspector } from "./observability/traffic.js";
import { observeRouter } from "./admin/observe-routes.js";
import { adminPage } from "./admin/page-route.js";
import { errorBody, sendScim } from "./http/scim-response.js";
import type { Logger } from "./logger.js";
import { bulkHandler } from "./scim/bulk-route.js";
import { DISCOVERY_PATH, discoveryHandler, type Capabilities } from "./scim/discovery.js";
import { rootSearch } from "./scim/root-search.js";
import { contextOf, listResponse, resourceRouter, searchParams } from "./scim/routes.js";
import { ResourceService, type ServiceDeps } from "./scim/service.js";
import { writeBackpressure } from "./http/write-backpressure.js";

export interface AppDeps {
  config: Config;
  store: Store;
  logger: Logger;
  /** Told of each write (the delivery worker: passwords to seal, commits to fan out). */
  writes?: ServiceDeps["writes"];
  /** SCIM clients authenticated by a verified TLS client certificate (server.tls.clients). */
  certificateClient?: AuthOptions["certificateClient"];
  /** Changes waiting for delivery, counted up to `cap`: SCIM writes wait while it is over provisioning.maxBacklog. */
  deliveryBacklog?: (cap: number) => Promise<number>;
  /** The admin API's view of provisioning (worker wake-up, rules, targets); see server/admin. */
  admin?: AdminDeps;
  /**
   * Per-target reachability for /readyz (assemble() probes the provisioning connections); passed
   * in so that the app does not depend on the worker. Without it /readyz reports no targets.
   */
  targetHealth?: () => Promise<TargetsHealth>;
  now?: () => Date;
  /** The server's secret key (stored tokens are hashed under a key derived from it); default: secretKeyOf(config). */
  secretKey?: Buffer;
}

export interface App {
  app: Express;
  service: ResourceService;
  tokens: TokenService;
  /** JWT access tokens: ours and the external issuer's (its JWKS state included). */
  accessTokens: AccessTokens;
  registry: SchemaRegistry;
  /** This app's Prometheus registry and recorders (the worker reports deliveries to it). */
  metrics: Metrics;
  /** The traffic inspector's ring buffer; undefined when `inspector.enabled` is false. */
  traffic?: TrafficInspector | undefined;
  /** The audit log (SCIM writes recorded here; the worker reports LDAP writes to it). */
  audit: AuditLog;
}

/** Body types parsed as JSON: RFC 7644's application/scim+json and plain application/json. */
function isJsonBody(req: IncomingMessage): boolean {
  const ct = req.headers["content-type"];
  // Some clients send no Content-Type on a JSON body; parse it rather than reject it.
  if (ct === undefined) return Number(req.headers["content-length"] ?? 0) > 0 || req.headers["transfer-encoding"] !== undefined;
  const type = ct.split(";")[0]!.trim().toLowerCase();
  return type === "application/json" || type === "application/scim+json" || type.endsWith("+json");
}

export function createApp(deps: AppDeps): App {
  const { config, store, logger } = deps;
  const registry = new SchemaRegistry(config.scim.extensions);
  const secretKey = deps.secretKey ?? secretKeyOf(config);
  const tokens = new TokenService(store, secretKey);
  const service = new ResourceService({
    store,
    registry,
    paging: config.scim,
    secretKey,
    writes: deps.writes,
    now: deps.now,
  });
  // RFC 7644 §3.7.4: the payload limit in force on /Bulk is the smaller of scim.bulk.maxPayloadSize
  // and server.maxBodyBytes (the JSON parser refuses anything larger first), so that is advertised.
  const bulkLimits = config.scim.bulk.enabled
    ? { maxOperations: config.scim.bulk.maxOperations, maxPayloadSize: Math.min(config.scim.bulk.maxPayloadSize, config.server.maxBodyBytes) }
    : undefined;
  const caps: Capabilities = { changePassword: deps.writes !== undefined, bulk: bulkLimits };
  const basePath = config.server.basePath.replace(/\/+$/, "");
  const baseUrlOf: (req: Request) => string = baseUrlResolver(config.server);

  const metrics = createMetrics({ store, basePath, targets: config.targets.map((t) => t.name) });

  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false); // ETags are resource versions (RFC 7644 §3.14), not body hashes.
  app.set("trust proxy", config.server.trustProxy);
  // Probes and scrapes first: outside the SCIM base and its auth, and kept out of the request log
  // (a kubelet or Prometheus every few seconds would drown the lines that matter).
  const accessTokens = new AccessTokens(config.auth, deps.now, logger);
  const jwks = accessTokens.jwks && (() => accessTokens.jwks!.state());
  app.use(observabilityRouter({ store, metrics, config: config.observability, targetHealth: deps.targetHealth, jwks }));
  // Links are built from the Host header when no publicUrl is set: two of them are refused first.
  app.use(rejectRepeatedHost);
  app.use(requestLog(logger));
  app.use(normalizePathMiddleware);
  // Traffic inspector and audit of SCIM writes: SCIM base path only, after normalisation; they
  // read the body and client when the response finishes. Not mounted at all when disabled.
  const traffic = config.inspector.enabled ? new TrafficInspector(config.inspector.size) : undefined;
  const audit = new AuditLog(store, deps.now);
  // A full or read-only disk is logged once when it starts and once when it ends (db/storage-faults.ts).
  store.health.onChange((f) =>
    f ? logger.error({ storage: f }, "the database cannot be written; SCIM writes answer 503") : logger.info("the database takes writes again"),
  );
  if (traffic) app.use(basePath, traffic.middleware());
  app.use(basePath, auditScimWrites(audit, logger));
  // Before body parsing, so a request refused by the JSON parser is counted (and timed) too.
  if (config.observability.metrics) app.use(basePath, metrics.scimRequests);
  app.use(jsonBody({ isJson: isJsonBody, limit: config.server.maxBodyBytes, maxDepth: config.scim.limits.jsonDepth }));

  // OAuth 2 client credentials (RFC 6749 §4.4), outside the SCIM base path; form bodies only here.
  const throttle = new FailureThrottle(config.auth.throttle, deps.now, logger);
  if (config.auth.oauth.clients.length) {
    app.post("/oauth/token", express.urlencoded({ extended: false, limit: "16kb" }), tokenEndpoint(config.auth, accessTokens, throttle), tokenEndpointErrors);
  }

  const scim = express.Router();
  scim.use(
    authenticate({
      config: config.auth,
      tokens,
      jwt: accessTokens,
      throttle,
      isOpen: (path) => config.auth.openDiscovery && DISCOVERY_PATH.test(path),
      certificateClient: deps.certificateClient,
    }),
  );
  scim.use(authorize());
  if (deps.deliveryBacklog) {
    const { maxBacklog, backlogWaitMs } = config.provisioning;
    scim.use(writeBackpressure({ backlog: deps.deliveryBacklog, max: maxBacklog, maxWaitMs: backlogWaitMs }));
  }
  scim.use(discoveryHandler(registry, config, caps, baseUrlOf));
  scim.use("/Users", resourceRouter(service, "User", config.scim, baseUrlOf));
  scim.use("/Groups", resourceRouter(service, "Group", config.scim, baseUrlOf));
  scim.post("/.search", async (req, res) => {
    sendScim(req, res, 200, listResponse(await rootSearch(service, searchParams(req.body, config.scim), contextOf(req, baseUrlOf))));
  });
  // RFC 7644 §3.11: /Me is optional; we have no user behind a client credential.
  scim.all(/^\/Me(\/.*)?$/, () => {
    throw new ScimError(501, undefined, "/Me is not supported: clients authenticate as services, not as users");
  });
  // RFC 7644 §3.7: POST /Bulk when enabled; otherwise 501, as /ServiceProviderConfig says.
  if (bulkLimits) scim.post("/Bulk", bulkHandler(service, bulkLimits, baseUrlOf, logger));
  scim.all(/^\/Bulk$/, (req) => {
    if (bulkLimits) throw new ScimError(405, undefined, `${req.method} /Bulk is not allowed; use POST (RFC 7644 §3.7)`);
    throw new ScimError(501, undefined, "/Bulk is not supported (see /ServiceProviderConfig)");
  });
  app.use(basePath, scim);

  // Admin API, outside the SCIM base. With no admin token configured it is not mounted at all and
  // answers 404 like any unknown path: an unconfigured API must be neither open nor advertised
  // (a 401 would tell a scanner there is something to guess a credential for).
  if (config.admin.tokens.length) {
    // Without provisioning wired in (createApp alone), counts and failures still come from the
    // store; only planned operations need the rules, and a poll-driven worker needs no wake-up.
    const admin = deps.admin ?? { rules: () => [], targets: config.targets };
    app.use("/admin/api", observeRouter({ config, traffic, audit, throttle }));
    app.use("/admin/api", adminRouter({ config, store, service, audit, deps: admin, targetHealth: deps.targetHealth, now: deps.now, throttle, jwks }));
    // The admin web page: static files calling the API above with the token the operator enters.
    app.use("/admin", adminPage());
  }
  app.use((req, res) => sendScim(req, res, 404, errorBody(404, `no endpoint at ${req.method} ${req.path}`)));
  app.use(errorBoundary(logger));
  return { app, service, tokens, accessTokens, registry, metrics, traffic, audit };
}
