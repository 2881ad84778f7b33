/**
 * The one config schema. Every key has a default that makes the embedded default work with no
 * file at all; a bad file fails at start-up with the key path and what was expected (style.md).
 */
import { z } from "zod";
import { DEFAULT_LIMITS } from "../../schemas/limits.js";
import { limitsSchema } from "./limits.js";
import { refineHooks, targetsSchema, userRulesSchema } from "../../hooks/rules/config.js";
import { groupRulesSchema, refineGroupRules } from "../../hooks/rules/group-config.js";
import { FULL_SCOPE, KNOWN_SCOPES } from "../auth/scopes.js";

const attributeType = z.enum(["string", "boolean", "decimal", "integer", "dateTime", "reference", "complex", "binary"]);

const extensionAttribute: z.ZodType<ExtensionAttributeConfig> = z.lazy(() =>
  z
    .object({
      name: z.string().regex(/^[A-Za-z][\w$-]*$/, "an attribute name (RFC 7643 §2.1 ATTRNAME)"),
      type: attributeType,
      multiValued: z.boolean().default(false),
      required: z.boolean().default(false),
      caseExact: z.boolean().default(false),
      description: z.string().optional(),
      mutability: z.enum(["readOnly", "readWrite", "immutable", "writeOnly"]).default("readWrite"),
      returned: z.enum(["always", "never", "default", "request"]).default("default"),
      uniqueness: z.enum(["none", "server", "global"]).default("none"),
      canonicalValues: z.array(z.string()).optional(),
      subAttributes: z.array(extensionAttribute).optional(),
    })
    .strict(),
);

export interface ExtensionAttributeConfig {
  name: string;
  type: z.infer<typeof attributeType>;
  multiValued: boolean;
  required: boolean;
  caseExact: boolean;
  description?: string | undefined;
  mutability: "readOnly" | "readWrite" | "immutable" | "writeOnly";
  returned: "always" | "never" | "default" | "request";
  uniqueness: "none" | "server" | "global";
  canonicalValues?: string[] | undefined;
  subAttributes?: ExtensionAttributeConfig[] | undefined;
}

const extension = z
  .object({
    // scimmy (which serves /Schemas) only accepts URNs in this namespace.
    schema: z
      .string()
      .regex(/^urn:ietf:params:scim:schemas:[\w.:-]+$/, "a schema URN starting urn:ietf:params:scim:schemas:"),
    name: z.string().min(1),
    description: z.string().optional(),
    resource: z.enum(["User", "Group"]).default("User"),
    required: z.boolean().default(false),
    attributes: z.array(extensionAttribute).min(1),
  })
  .strict();

const basicCredential = z
  .object({
    username: z.string().min(1),
    /** Usually `${ENV_VAR}`; compared in constant time, never logged. */
    password: z.string().min(8, "at least 8 characters"),
    name: z.string().optional(),
    /** What this credential may do (server/auth/scopes.ts); default everything. */
    scopes: z.array(z.enum(KNOWN_SCOPES)).min(1).default([FULL_SCOPE]),
  })
  .strict();

const jwksSettings = z
  .object({
    cacheSeconds: z.number().int().min(1).default(600),
    graceSeconds: z.number().int().min(0).default(86_400),
    cooldownSeconds: z.number().int().min(1).default(30),
    maxBackoffSeconds: z.number().int().min(1).default(300),
    timeoutMs: z.number().int().min(100).default(5000),
  })
  .strict();
/**
 * HTTPS on the SCIM port (server/http/tls.ts). The files are read again when they change, so a
 * short-lived certificate is renewed without a restart. With caFile, clients may present a
 * certificate issued by that CA (mTLS); `clients` maps a certificate subject to a SCIM client.
 */
const tlsSettings = z
  .object({
    certFile: z.string().min(1),
    keyFile: z.string().min(1),
    /** CA bundle that client certificates must chain to; without it no client certificate is asked for. */
    caFile: z.string().min(1).optional(),
    minVersion: z.enum(["TLSv1.2", "TLSv1.3"]).default("TLSv1.2"),
    /** With caFile: "optional" lets bearer and Basic clients in too; "required" refuses the handshake without a certificate. */
    clientCertificate: z.enum(["optional", "required"]).default("optional"),
    /**
     * A client authenticated by its certificate: the subject as the certificate states it
     * (`CN=pingfed,O=Example`, attributes in any order), the client name audit and logs show, and
     * its scopes (server/auth/scopes.ts).
     */
    clients: z
      .array(
        z
          .object({
            subject: z.string().regex(/^\s*[A-Za-z][\w.-]*=[^,]*(,\s*[A-Za-z][\w.-]*=[^,]*)*$/, "a subject such as CN=pingfed,O=Example"),
            name: z.string().min(1),
            scopes: z.array(z.enum(KNOWN_SCOPES)).min(1).default([FULL_SCOPE]),
          })
          .strict(),
      )
      .default([]),
    /** How often the certificate files are checked for a change. */
    reloadSeconds: z.number().min(0.1).max(3600).default(60),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.clients.length && t.caFile === undefined) ctx.addIssue({ code: "custom", path: ["clients"], message: "client certificates need server.tls.caFile (the CA they are issued by)" });
  });

const JWKS_DEFAULTS = { cacheSeconds: 600, graceSeconds: 86_400, cooldownSeconds: 30, maxBackoffSeconds: 300, timeoutMs: 5000 };

export const configSchema = z
  .object({
    server: z
      .object({
        host: z.string().default("127.0.0.1"),
        port: z.number().int().min(0).max(65535).default(8080),
        basePath: z
          .string()
          .regex(/^\/[\w/.-]*$/, "a path starting with /")
          .default("/scim/v2"),
        /** Base URL clients use (for meta.location) when behind a proxy; else derived from the request. */
        publicUrl: z.url().optional(),
        /**
         * Without publicUrl: the Host names links may be built from (besides the address a
         * connection arrives on); any other Host header is ignored (server/http/host.ts).
         */
        hostNames: z.array(z.string().regex(/^[A-Za-z0-9.-]+$/, "a host name without port")).default([]),
        /** Largest request body accepted; larger ones get 413. */
        maxBodyBytes: z.number().int().positive().default(1_048_576),
        trustProxy: z.boolean().default(false),
        /**
         * On SIGTERM/SIGINT, how long requests in flight may take to finish before the
         * connections still open (a stalled client, a half-sent request) are closed.
         */
        shutdownGraceMs: z.number().int().min(0).default(10_000),
        /** HTTPS on this port instead of plain HTTP (see tlsSettings). */
        tls: tlsSettings.optional(),
      })
      .strict()
      .default({ host: "127.0.0.1", port: 8080, basePath: "/scim/v2", hostNames: [], maxBodyBytes: 1_048_576, trustProxy: false, shutdownGraceMs: 10_000 }),
    storage: z
      .object({
        /** The SQLite database: the default, one process (several replicas need `url`). */
        file: z.string().min(1).default("./data/scimbridge.db"),
        /**
         * A PostgreSQL database instead (postgres://user:password@host:port/db, the password
         * usually from ${ENV}): any number of replicas share it. Its default collation must not
         * matter and its encoding must be UTF8 (db/pg/open.ts checks).
         */
        url: z
          .string()
          .regex(/^postgres(ql)?:\/\/[^\s]+$/, "a postgres:// or postgresql:// URL")
          .optional(),
        /** PostgreSQL connections per replica (node-postgres pool). */
        pool: z
          .object({ max: z.number().int().min(2).max(1000).default(10) })
          .strict()
          .default({ max: 10 }),
      })
      .strict()
      .default({ file: "./data/scimbridge.db", pool: { max: 10 } }),
    auth: z
      .object({
        /**
         * Extra Authorization scheme words accepted besides "Bearer" (PingFederate's "Authorization
         * Header Type", PingOne's "Auth Type Header: Custom"), e.g. ["oauth2"].
         */
        bearerSchemes: z.array(z.string().regex(/^[!#$%&'*+.^_`|~\w-]+$/, "an HTTP auth-scheme token")).default([]),
        basic: z.array(basicCredential).default([]),
        /** Let unauthenticated clients read /ServiceProviderConfig, /ResourceTypes and /Schemas. */
        openDiscovery: z.boolean().default(false),
        /** Leeway for `exp`, `nbf` and `iat` of JWTs (RFC 7519 §4.1.4: "a few minutes" at most). */
        clockSkewSeconds: z.number().int().min(0).max(600).default(60),
        /** Failed credential checks allowed per caller within windowSeconds before 429 (server/auth/throttle.ts). */
        throttle: z
          .object({ maxFailures: z.number().int().min(1).default(20), windowSeconds: z.number().int().min(1).default(60) })
          .strict()
          .default({ maxFailures: 20, windowSeconds: 60 }),
        /** OAuth 2 client credentials (RFC 6749 §4.4): POST /oauth/token issues HS256 JWTs. */
        oauth: z
          .object({
            clients: z
              .array(
                z
                  .object({
                    clientId: z.string().regex(/^[\x20-\x7e]{1,128}$/, "1-128 printable ASCII characters (RFC 6749 Appendix A.1)"),
                    /** Usually `${ENV_VAR}`; compared in constant time, never logged. */
                    clientSecret: z.string().min(16, "at least 16 characters"),
                    /** Scopes this client may request (RFC 6749 §3.3); all are granted when it asks for none. */
                    scopes: z
                      .array(z.string().regex(/^[\x21\x23-\x2b\x2d-\x5b\x5d-\x7e]+$/, "a scope-token (RFC 6749 §3.3) without commas"))
                      .min(1)
                      .default(["scim"]),
                  })
                  .strict(),
              )
              .default([]),
            /** HMAC key for issued tokens, ≥32 bytes (RFC 7518 §3.2); usually ${SCIMBRIDGE_OAUTH_KEY}. */
            signingKey: z
              .string()
              .refine((k) => Buffer.byteLength(k, "utf8") >= 32, "at least 32 bytes (RFC 7518 §3.2 for HS256)")
              .optional(),
            /** `expires_in` of issued tokens (Entra's gallery expects 60 min to 6 h). */
            tokenLifetimeSeconds: z.number().int().min(1).max(86_400).default(3600),
            /** `iss` of issued tokens; default "scimbridge". */
            issuer: z.string().min(1).optional(),
          })
          .strict()
          .default({ clients: [], tokenLifetimeSeconds: 3600 }),
        /** Access tokens (JWTs) from an external authorization server, checked against its JWKS. */
        jwt: z
          .object({
            issuer: z.string().min(1),
            audience: z.string().min(1),
            // Keys fetched over plain HTTP could be swapped in transit; allow it only on loopback.
            jwksUrl: z.url().refine((u) => {
              const url = new URL(u);
              return url.protocol === "https:" || (url.protocol === "http:" && ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname));
            }, "an https URL (plain http only for localhost, 127.0.0.1 or [::1])"),
            /** Calling applications allowed (`client_id`, `azp`, `appid` or `cid`); empty: any the issuer serves. */
            clientIds: z.array(z.string().min(1)).default([]),
            /** Claims holding the token's scopes or roles (RFC 8693 §4.2 `scope`, Okta `scp`, Entra `roles`). */
            scopeClaims: z.array(z.string().min(1)).min(1).default(["scope", "scp", "roles"]),
            /** Longest `exp - iat` accepted, and oldest `iat` (RFC 8725 §3.10); Entra app tokens live 60-90 min. */
            maxLifetimeSeconds: z.number().int().min(60).default(86_400),
            jwks: jwksSettings.default(JWKS_DEFAULTS),
          })
          .strict()
          .optional(),
      })
      .strict()
      .superRefine((a, ctx) => {
        if (a.oauth.clients.length && a.oauth.signingKey === undefined) {
          ctx.addIssue({ code: "custom", path: ["oauth", "signingKey"], message: "required when auth.oauth.clients are configured" });
        }
        const seen = new Set<string>();
        a.oauth.clients.forEach((c, i) => {
          if (seen.has(c.clientId)) ctx.addIssue({ code: "custom", path: ["oauth", "clients", i, "clientId"], message: `duplicate clientId ${c.clientId}` });
          seen.add(c.clientId);
        });
      })
      .default({ bearerSchemes: [], basic: [], openDiscovery: false, clockSkewSeconds: 60, throttle: { maxFailures: 20, windowSeconds: 60 }, oauth: { clients: [], tokenLifetimeSeconds: 3600 } }),
    scim: z
      .object({
        /** Largest page served; `count` above it (PingFederate asks 1000 or -1) is clamped to it. */
        maxPageSize: z.number().int().min(1).max(10_000).default(1000),
        /** Page size when a client sends no `count` (RFC 7644 §3.4.2.4 leaves it to the server). */
        defaultPageSize: z.number().int().min(1).default(100),
        extensions: z.array(extension).default([]),
        /**
         * POST /Bulk (RFC 7644 §3.7). §3.7.4 requires both limits and a 413 when either is exceeded;
         * the payload limit in force is the smaller of maxPayloadSize and server.maxBodyBytes.
         */
        bulk: z
          .object({
            enabled: z.boolean().default(true),
            maxOperations: z.number().int().min(1).default(1000),
            maxPayloadSize: z.number().int().positive().default(1_048_576),
          })
          .strict()
          .default({ enabled: true, maxOperations: 1000, maxPayloadSize: 1_048_576 }),
        /** Bounded work per request (server/config/limits.ts). */
        limits: limitsSchema,
        /**
         * A Group PATCH's answer when the client asks for nothing in particular (RFC 7644 §3.5.2
         * allows either): minimal is 204 without a body, full is 200 with the group and all its
         * members. `attributes`, `excludedAttributes` and `Prefer: return=...` (RFC 7240) still get
         * what they ask for (server/scim/routes.ts patchAnswer).
         */
        groupPatchResponse: z.enum(["minimal", "full"]).default("minimal"),
      })
      .strict()
      .default({
        maxPageSize: 1000,
        defaultPageSize: 100,
        extensions: [],
        bulk: { enabled: true, maxOperations: 1000, maxPayloadSize: 1_048_576 },
        limits: { ...DEFAULT_LIMITS },
        groupPatchResponse: "minimal",
      }),
    logging: z
      .object({ level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info") })
      .strict()
      .default({ level: "info" }),
    targets: targetsSchema,
    userRules: userRulesSchema,
    groupRules: groupRulesSchema,
    provisioning: z
      .object({
        /**
         * 32-byte AES-256-GCM key (base64 or hex) sealing SCIM passwords until delivered; usually
         * ${SCIMBRIDGE_SECRET_KEY}. Without it a key file is generated next to the database.
         */
        secretKey: z.string().optional(),
        /** Attempts before a permanent failure is parked as failed (transient ones retry forever). */
        maxAttempts: z.number().int().min(1).max(100).default(5),
        retryInitialMs: z.number().int().min(10).default(500),
        retryMaxMs: z.number().int().min(100).default(60_000),
        pollMs: z.number().int().min(10).default(1000),
        /**
         * How long a worker holds a row it took for delivery before another replica may take it
         * (renewed every third of it while the delivery runs). After a replica's crash its rows
         * are delivered by the others after at most this long plus pollMs; replicas' clocks must
         * agree to well within it (NTP).
         */
        leaseSeconds: z.number().int().min(5).max(3600).default(60),
        /** Minutes between repairing reconciles run by `serve`; absent: never. */
        reconcileEveryMinutes: z.number().positive().optional(),
        /**
         * Backpressure: while more than this many changes wait for their first delivery attempt,
         * SCIM writes wait for the worker (up to backlogWaitMs, then 503 with Retry-After, RFC 9110
         * §15.6.4), so under sustained intake delivery lag stays bounded instead of growing with
         * the backlog. 0 turns it off.
         */
        maxBacklog: z.number().int().min(0).default(1000),
        backlogWaitMs: z.number().int().min(0).default(30_000),
      })
      .strict()
      .default({ maxAttempts: 5, retryInitialMs: 500, retryMaxMs: 60_000, pollMs: 1000, leaseSeconds: 60, maxBacklog: 1000, backlogWaitMs: 30_000 }),
    /**
     * Credentials of the admin API (/admin/api: sync status, failures, retry, resync), separate
     * from SCIM clients'. Tokens usually come from ${ENV_VAR}. None configured: no admin API.
     */
    admin: z
      .object({
        tokens: z
          .array(z.object({ name: z.string().min(1), token: z.string().min(16, "at least 16 characters") }).strict())
          .default([]),
      })
      .strict()
      .default({ tokens: [] }),
    /**
     * /metrics (Prometheus text, no SCIM auth). With metricsToken set, scrapes must send
     * `Authorization: Bearer <metricsToken>`; usually ${ENV_VAR}. /healthz and /readyz are always on.
     */
    observability: z
      .object({
        metrics: z.boolean().default(true),
        metricsToken: z.string().min(16, "at least 16 characters").optional(),
      })
      .strict()
      .default({ metrics: true }),
    /**
     * Traffic inspector: the last `size` SCIM requests and responses in memory (bodies capped at
     * 64 KB, passwords and tokens redacted), read through GET /admin/api/traffic.
     */
    inspector: z
      .object({
        enabled: z.boolean().default(true),
        size: z.number().int().min(1).max(10_000).default(200),
      })
      .strict()
      .default({ enabled: true, size: 200 }),
    /** Audit log of SCIM and LDAP writes in SQLite; rows older than retentionDays are pruned hourly. */
    audit: z
      .object({ retentionDays: z.number().int().min(1).max(3650).default(30) })
      .strict()
      .default({ retentionDays: 30 }),
    /**
     * A local OpenLDAP (Debian's slapd as a child process, data under ./data/slapd) with the
     * openldap preset and one rule: the embedded default when no config file is given.
     */
    embeddedDirectory: z
      .object({
        enabled: z.boolean().default(false),
        port: z.number().int().min(0).max(65535).default(1389),
        dir: z.string().default("./data/slapd"),
        suffix: z.string().regex(/^dc=[^,]+(,dc=[^,]+)*$/i, "a suffix of dc= RDNs").default("dc=example,dc=com"),
      })
      .strict()
      .default({ enabled: false, port: 1389, dir: "./data/slapd", suffix: "dc=example,dc=com" }),
  })
  .strict()
  .superRefine((c, ctx) => {
    refineHooks(c, ctx);
    refineGroupRules(c, ctx);
    refineStorage(c, ctx);
    if (c.scim.defaultPageSize > c.scim.maxPageSize) {
      ctx.addIssue({
        code: "custom",
        path: ["scim", "defaultPageSize"],
        message: `must not exceed scim.maxPageSize (${c.scim.maxPageSize})`,
      });
    }
  });

/**
 * PostgreSQL is for several replicas sharing one database: each must seal passwords under the same
 * key (no per-machine key file beside a database that is not on this machine), and none may run
 * the embedded directory (one slapd per replica would be as many different directories).
 */
function refineStorage(c: { storage: { url?: string | undefined }; provisioning: { secretKey?: string | undefined }; embeddedDirectory: { enabled: boolean } }, ctx: z.RefinementCtx): void {
  if (c.storage.url === undefined) return;
  if (!c.provisioning.secretKey) {
    ctx.addIssue({ code: "custom", path: ["provisioning", "secretKey"], message: "is required with storage.url (PostgreSQL): every replica seals passwords under this key, usually ${SCIMBRIDGE_SECRET_KEY}" });
  }
  if (c.embeddedDirectory.enabled) {
    ctx.addIssue({ code: "custom", path: ["embeddedDirectory", "enabled"], message: "cannot be used with storage.url (PostgreSQL): each replica would run a directory of its own; configure a target instead" });
  }
}

export type Config = z.infer<typeof configSchema>;
export type ExtensionConfigInput = z.infer<typeof extension>;

/**
 * The config file's JSON Schema (draft 2020-12), generated from the zod schema as the file is
 * written (io "input": keys with defaults are optional), for editors' YAML language servers.
 */
export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }),
    title: "scimbridge configuration",
  };
}
