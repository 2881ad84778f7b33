/**
 * `scimbridge serve`: open the store, make sure a client can authenticate, listen, and shut down
 * cleanly on SIGTERM/SIGINT (stop accepting, finish in-flight requests, close the database).
 */
import type { Server, ServerResponse } from "node:http";
import type { Store } from "../db/store.js";
import { databaseName, openConfiguredStore } from "./store.js";
import { createApp, type App, type AppDeps } from "./app.js";
import type { TokenService } from "./auth/tokens.js";
import type { Config } from "./config/schema.js";
import { createLogger, type Logger } from "./logger.js";
import { errorBody } from "./http/scim-response.js";
import { SlapdSupervisor, withSupervisor, type SlapdHandle, type SupervisedStatus } from "../hooks/delivery/index.js";
import type { CompiledRule } from "../hooks/rules/mapping.js";
import { compileRules, createProvisioning, startEmbeddedDirectory, type Provisioning } from "./provisioning.js";
import { reconcileWith, startPeriodicReconcile } from "./reconcile.js";
import { probeTargets, type TargetsHealth } from "./observability/health.js";
import type { LdapWriteEvent } from "./observability/audit.js";
import { acquireServeLock, type ServeLock } from "./serve-lock.js";
import { warnAboutExposedData } from "./data-files.js";
import { listen, prepareListener } from "./http/listener.js";
import { startBanner } from "./cli/banner.js";

export interface Running {
  url: string;
  server: Server;
  app: App;
  store: Store;
  provisioning: Provisioning;
  embedded?: SlapdHandle | undefined;
  logger: Logger;
  stop(): Promise<void>;
}

/**
 * SCIM_TOKEN, when set, is stored (hashed) as the token named "env". Otherwise, with no token at
 * all, a first one is generated and printed once, so the embedded default needs no set-up step.
 */
export async function ensureToken(tokens: TokenService, env: NodeJS.ProcessEnv): Promise<{ name: string; token?: string } | undefined> {
  if (env.SCIM_TOKEN) {
    await tokens.put("env", env.SCIM_TOKEN);
    return { name: "env" };
  }
  if ((await tokens.count()) > 0) return undefined;
  return { name: "default", token: await tokens.create("default") };
}

/** Extra listeners an embedder (or the benchmark) attaches to the running service. */
export interface Observers {
  /** Each LDAP operation the delivery worker ran, as soon as the directory answered (after the audit log has it). */
  onLdapWrite?: ((e: LdapWriteEvent) => void) | undefined;
}

/** The app and its provisioning side, wired together (used by serve and by tests). */
export async function assemble(
  config: Config,
  store: Store,
  logger: Logger,
  observers: Observers = {},
  /** The embedded slapd's supervision, shown with its target's health. */
  embedded?: () => SupervisedStatus,
  /** SCIM clients authenticated by their TLS client certificate (server/http/tls.ts). */
  certificateClient?: AppDeps["certificateClient"],
): Promise<{ app: App; provisioning: Provisioning }> {
  // The service tells the worker of each write (one listener); the worker exists once the app does.
  const late: { provisioning?: Provisioning; rules?: CompiledRule[] } = {};
  const probe: { targets?: () => Promise<TargetsHealth> } = {};
  const app = createApp({
    config,
    store,
    logger,
    certificateClient,
    writes: {
      passwordSet: (id, password) => late.provisioning!.worker.acceptPassword(id, password),
      committed: () => late.provisioning?.worker.changed(),
    },
    deliveryBacklog: async (cap) => (late.provisioning ? late.provisioning.worker.backlog(cap) : 0),
    // The worker's own connections, so /readyz sees what deliveries see.
    targetHealth: () => probe.targets?.() ?? Promise.resolve({}),
    admin: {
      wake: () => late.provisioning?.worker.wake(),
      // The same config the worker compiles its rules from; compiled once, on first use.
      rules: () => (late.rules ??= compileRules(config, app.registry)),
      groupRules: () => config.groupRules,
      previewGroup: (id, rule) => late.provisioning!.worker.previewGroup(id, rule),
      targets: config.targets,
      reconcile: ({ target }) => reconcileWith({ config, store, app, targets: late.provisioning!.targets, dryRun: true, target }),
    },
  });
  const provisioning = await createProvisioning({ config, store, registry: app.registry, logger, onDelivery: (e) => app.metrics.recordDelivery(e),
    onLdapWrite: (e) => {
      app.audit.recordLdap(e);
      observers.onLdapWrite?.(e);
    },
  });
  late.provisioning = provisioning;
  const probed = probeTargets(provisioning.targets);
  probe.targets = embedded ? () => probed().then((h) => withSupervisor(h, "embedded", embedded())) : probed;
  return { app, provisioning };
}

type ServeOptions = { env: NodeJS.ProcessEnv; handleSignals?: boolean; observers?: Observers };

/**
 * Starts the service once it holds the database's serve lock (./serve-lock.ts), before anything
 * else (a second embedded slapd on the same data directory included). Throws ServeLockHeldError
 * when another server has the file; stop() releases the lock last.
 */
export async function startServer(given: Config, opts: ServeOptions): Promise<Running> {
  // PostgreSQL is shared by design (any number of replicas); only a SQLite file takes one server.
  const lock = given.storage.url === undefined ? acquireServeLock(given.storage.file) : { file: "", release: () => undefined };
  try {
    return await startLocked(given, opts, lock);
  } catch (e) {
    lock.release();
    throw e;
  }
}

async function startLocked(given: Config, opts: ServeOptions, lock: ServeLock): Promise<Running> {
  const logger = createLogger(given.logging.level);
  const listening = prepareListener(given); // the TLS files, read and checked before anything starts
  let config = given;
  let embedded: SlapdHandle | undefined;
  let supervisor: SlapdSupervisor | undefined;
  if (config.embeddedDirectory.enabled) {
    ({ slapd: embedded, config } = await startEmbeddedDirectory(config));
    logger.info({ url: embedded.url, suffix: config.embeddedDirectory.suffix }, "embedded directory started");
    // Restarted with backoff if it dies, on the same directory and port (hooks/ldap/slapd-supervisor.ts).
    // The port it got (embeddedDirectory.port may be 0), since the targets' URL names it.
    const again = { ...given, embeddedDirectory: { ...given.embeddedDirectory, port: embedded.port } };
    supervisor = new SlapdSupervisor(embedded, async () => (await startEmbeddedDirectory(again)).slapd, logger);
  }
  const store = await openConfiguredStore(config);
  if (store.engine === "sqlite") warnAboutExposedData(config, logger);
  const { app, provisioning } = await assemble(config, store, logger, opts.observers, supervisor && (() => supervisor.status()), listening.certificates);
  for (const name of await app.tokens.storedUnderOtherKey()) logger.warn({ token: name }, "bearer token stored under another secret key cannot work: revoke and re-create it");
  await provisioning.worker.start();
  const every = config.provisioning.reconcileEveryMinutes;
  const stopReconcile = every
    ? startPeriodicReconcile({ config, store, app, targets: provisioning.targets, logger, minutes: every, wake: () => provisioning.worker.wake() })
    : undefined;
  const first = await ensureToken(app.tokens, opts.env);
  // Audit retention: prune at start-up and hourly (unref'd: it never keeps the process alive).
  const prune = async () => {
    try {
      // One replica prunes (Store.singleton); another holding the claim just now does it this hour.
      const claim = await store.singleton("audit-prune");
      if (!claim) return;
      const n = await app.audit.prune(config.audit.retentionDays).finally(() => claim.release());
      if (n) logger.info({ rows: n, retentionDays: config.audit.retentionDays }, "audit log pruned");
    } catch (e) {
      logger.error({ err: e }, "audit log prune failed");
    }
  };
  await prune();
  const pruneTimer = setInterval(() => void prune(), 3_600_000);
  pruneTimer.unref();

  // Once shutdown starts, a request arriving on a kept-alive connection is not taken: it gets a
  // SCIM 503 and the connection is closed. server.close() only stops the listener, and Node goes on
  // serving kept-alive sockets, so a client streaming over one would keep the process up for ever.
  let closing = false;
  const inFlight = new Set<ServerResponse>();
  const { server, url, unwatch } = await listen(
    listening,
    (req, res) => {
      if (closing) {
        const body = JSON.stringify(errorBody(503, "the service is shutting down; retry later"));
        res.writeHead(503, { "Content-Type": "application/scim+json; charset=utf-8", "Content-Length": Buffer.byteLength(body), Connection: "close", "Retry-After": "5" });
        res.end(body);
        return;
      }
      inFlight.add(res);
      res.once("close", () => inFlight.delete(res));
      void app.app(req, res);
    },
    logger,
  );

  // scimbridge_target_up: each target's reachability, probed as /readyz probes it.
  app.metrics.watchTargets(probeTargets(provisioning.targets));
  // Human lines go to stderr; stdout carries only the JSON log lines.
  process.stderr.write(startBanner({ url, publicUrl: config.server.publicUrl, database: databaseName(config), embedded: embedded && { url: embedded.url, suffix: config.embeddedDirectory.suffix }, first }) + "\n");
  logger.info({ url, database: databaseName(config) }, "started");

  let stopping: Promise<void> | undefined;
  /** Resolves once the listener is closed and every connection is gone (bounded by the grace period). */
  const closeHttp = () =>
    new Promise<void>((resolve) => {
      closing = true;
      // Responses still to come close their connection, so it cannot carry another request.
      for (const res of inFlight) if (!res.headersSent) res.setHeader("Connection", "close");
      const grace = setTimeout(() => {
        logger.warn({ requests: inFlight.size, graceMs: config.server.shutdownGraceMs }, "closing connections still open after the grace period");
        server.closeAllConnections();
      }, config.server.shutdownGraceMs);
      server.close(() => {
        clearTimeout(grace);
        resolve();
      });
      server.closeIdleConnections();
    });
  const stop = () =>
    (stopping ??= (async () => {
      logger.info("shutting down");
      const reconciling = stopReconcile?.();
      clearInterval(pruneTimer);
      // Stop taking requests and let in-flight ones finish: only then is nothing writing to the
      // store from the HTTP side.
      await closeHttp();
      // Then the LDAP deliveries in flight finish (bounded by the targets' timeouts) and record
      // their outcome before the store closes; the rest stay pending for the next start.
      await reconciling; // a periodic reconcile in progress finishes its repairs first
      logger.info("waiting for in-flight deliveries");
      const t0 = performance.now();
      await provisioning.close();
      logger.info({ ms: Math.round(performance.now() - t0) }, "in-flight deliveries finished");
      await app.audit.flush(); // the last turn's audit rows (SCIM requests and LDAP operations)
      unwatch();
      await store.close();
      await (supervisor ? supervisor.stop() : embedded?.stop());
      lock.release();
    })());

  if (opts.handleSignals !== false) {
    const onSignal = (signal: NodeJS.Signals) => {
      stop().then(
        () => {
          logger.info({ signal }, "stopped");
          process.exit(0);
        },
        (e: unknown) => {
          logger.error({ err: e, signal }, "shutdown failed");
          process.exit(1);
        },
      );
    };
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
  }
  return { url, server, app, store, logger, provisioning, embedded, stop };
}
