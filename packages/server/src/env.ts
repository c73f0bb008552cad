import {
  ConfigError,
  certificateFiles,
  databaseFileEnv,
  databaseSettings,
  databaseUrl,
  type EnvSource,
  host,
  integer,
  listenAddress,
  logLevel,
  parseEnv,
  partnerEnv,
  partnerSettings,
  port,
  propgateEnv,
  readConfigFile,
  retentionEnv,
  tracingEnv,
  tracingSettings,
  url,
} from "@propgate/config";
import { type AuditSigner, createAuditSigner } from "@propgate/consent-audit";
import { z } from "zod";
import { cidrList } from "./client-address.ts";
import { eventsWebhookEnv, loadEventsWebhookSettings } from "./events-webhook-env.ts";
import { loadPartnerSurfaceConfig, partnerSurfaceEnv } from "./partner-surface/config.ts";

/** Every api instance's own settings; the partner and partner-surface ones are read after. */
const apiEnv = z.object({
  PROPGATE_ENV: propgateEnv.default("production").meta({
    description:
      "`production`, `development` or `test`. Outside production: plain http to loopback partners and identity provider, inline partner secrets, the embedded PGlite, no audit signing key; `/openapi.json` and `Server-Timing` are served",
  }),
  HOST: host.default("127.0.0.1").meta({ description: "address the residents' api listens on" }),
  PORT: port.default(8080).meta({
    description:
      "port of the residents' api (`/trpc`, `/healthz`, `/readyz`); `0` picks a free one. Taken: startup stops naming it",
  }),
  TLS_CERT_FILE: z.string().optional().meta({
    description:
      "PEM certificate (chain, leaf first): with `TLS_KEY_FILE` the api serves HTTPS only (TLS ≥ 1.2); set both or neither",
    unset: "– (plain http, with a warning at start)",
  }),
  TLS_KEY_FILE: z.string().optional().meta({
    description: "PEM private key of `TLS_CERT_FILE`",
  }),
  LOG_LEVEL: logLevel.default("info").meta({ description: "pino log level" }),
  SHUTDOWN_DRAIN_MS: integer(0, 600_000).optional().meta({
    description:
      "on SIGTERM, how long `/readyz` answers 503 (the load balancer stops sending) before the listener closes; at most half of `SHUTDOWN_GRACE_MS`",
    unset: "`5000` in production, `0` elsewhere",
  }),
  SHUTDOWN_GRACE_MS: integer(1000, 600_000).default(15_000).meta({
    description:
      "the process exits within this of SIGTERM whatever happens; requests in flight get what is left after the drain",
  }),
  METRICS_LISTEN: z
    .union([z.literal("off"), listenAddress])
    .optional()
    .meta({
      description:
        "where `/metrics` (Prometheus) is served: `host:port` (`[v6]:port`) of a listener of its own, never the residents' port; `off` serves none. Taken: startup stops naming it",
      unset:
        "`127.0.0.1:9465` in production (the health probe has 9464), a free loopback port elsewhere",
      production: "one per instance: a second instance on the host needs its own (or `off`)",
    }),
  INSTANCE_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, "must be 1-64 of [A-Za-z0-9._-]")
    .optional()
    .meta({
      description: "names this instance in audit rows and logs (1–64 of `A-Za-z0-9._-`)",
      unset: "`<host>-<pid>-<random>`",
    }),
  DATABASE_URL: databaseUrl.optional().meta({
    description:
      "PostgreSQL, `postgres://…?sslmode=verify-full` (`sslmode=require` does not authenticate the server: `security-check` flags it)",
    unset: "– (the embedded PGlite under `DATA_DIR`)",
    production:
      "required (PostgreSQL only); a password in it gets a warning at start: use `DATABASE_PASSWORD_FILE`",
  }),
  ...databaseFileEnv,
  DATA_DIR: z.string().optional().meta({
    description: "folder of the embedded PGlite database, when there is no `DATABASE_URL`",
    production: "not taken: `DATABASE_URL` is required (PGlite is one process's database)",
  }),
  AUTH_ISSUER: z.string().min(1).meta({
    description: "`iss` of the tokens the api accepts, residents' and admins'",
  }),
  AUTH_AUDIENCE: z.string().min(1).meta({
    description: "`aud` those tokens must carry",
  }),
  AUTH_JWKS_URL: url.meta({
    description: "the identity provider's signing keys (JWKS); tokens carry `sub` and `sites`",
    // Whoever can swap the keys mints admin tokens.
    production: "must be https",
  }),
  AUTH_JWKS_CA_FILE: z.string().optional().meta({
    description:
      "PEM of the CA the identity provider's certificate chains to, when not a public one",
    unset: "system CAs",
  }),
  MAX_BODY_BYTES: integer(1024, 10 * 1024 * 1024)
    .default(64 * 1024)
    .meta({ description: "largest request body" }),
  VIDEO_MAX_SESSIONS_PER_RESIDENT: integer(1, 20)
    .default(2)
    .meta({ description: "live video sessions one resident may hold at once" }),
  EVENTS_MAX_STREAMS_PER_RESIDENT: integer(1, 50).default(5).meta({
    description:
      "live event streams (`events.onEvent`) one resident may hold open on one instance; one more is refused `RATE_LIMITED`",
  }),
  EVENTS_MAX_STREAMS: integer(1, 1_000_000).default(10_000).meta({
    description:
      "live event streams one instance holds open, all residents together; one more is refused `UNAVAILABLE` (the client reconnects, through the load balancer)",
  }),
  GUEST_KEY_MAX_HOURS: integer(1, 720).default(72).meta({
    description:
      "the longest a guest key (`keys.create`) may be valid, `validUntil - validFrom`, in hours; a longer one is refused `INVALID_INPUT` before the partner is asked",
  }),
  GUEST_KEYS_MAX_ACTIVE: integer(1, 1000).default(10).meta({
    description:
      "active guest keys one resident may hold at once; one more is refused `RATE_LIMITED` before the partner is asked",
  }),
  GUEST_KEY_END_INTERVAL_MS: integer(100, 60_000).default(1000).meta({
    description:
      "how often each instance looks at the guest key end queue (a revocation of `guests` wakes it at once); a key whose cause was a block or a lost site is deleted at the partner within this",
  }),
  // Short, so a partner back up is caught at once (the 5 s of issue 27).
  GUEST_KEY_END_RETRY_BASE_SECONDS: integer(1, 3600).default(1).meta({
    description:
      "first wait after a failed `DELETE` of a guest key at the partner, doubled per failure",
  }),
  GUEST_KEY_END_RETRY_MAX_SECONDS: integer(1, 3600)
    .default(4)
    .meta({ description: "longest wait between those `DELETE`s" }),
  VIDEO_SESSION_MAX_SECONDS: integer(5, 86_400).default(3600).meta({
    description:
      "the longest a video session runs; a partner that names no end (WHEP) gets this one (5–86400)",
  }),
  VIDEO_END_INTERVAL_MS: integer(100, 60_000).default(1000).meta({
    description:
      "how often each instance looks at the video end queue (a revocation wakes it at once)",
  }),
  // Short, so a partner back up is caught at once.
  VIDEO_END_RETRY_BASE_SECONDS: integer(1, 3600).default(1).meta({
    description:
      "first wait after a failed `DELETE` of a video session at the partner, doubled per failure",
  }),
  VIDEO_END_RETRY_MAX_SECONDS: integer(1, 3600)
    .default(4)
    .meta({ description: "longest wait between those `DELETE`s" }),
  ERASURE_INTERVAL_MS: integer(100, 3_600_000)
    .default(5000)
    .meta({ description: "how often each instance looks at the erasure outbox" }),
  ERASURE_RETRY_BASE_SECONDS: integer(1, 3600)
    .default(5)
    .meta({ description: "first wait after a failed erasure at a partner, doubled per failure" }),
  ERASURE_RETRY_MAX_SECONDS: integer(1, 86_400)
    .default(3600)
    .meta({ description: "longest wait between erasure attempts" }),
  // 72 h: well inside the 30 days 152-FZ allows for destroying data after consent is withdrawn.
  ERASURE_OVERDUE_SECONDS: integer(60, 30 * 86_400)
    .default(72 * 3600)
    .meta({
      description: "a pending erasure older than this raises `propgate_erasures_overdue`",
      unset: "`259200` (72 h)",
    }),
  // 25 days: inside the 30 that 152-FZ art. 21 allows, leaving operators time to act on the alert.
  ERASURE_DEADLINE_DAYS: integer(1, 30).default(25).meta({
    description:
      "days after a request by which the partner must confirm an erasure done (after a 202, by status polls); later it is marked overdue and `propgate_erasures_overdue` alerts",
  }),
  ERASURE_POLL_SECONDS: integer(1, 86_400).default(3600).meta({
    description:
      "wait between status polls of an erasure a partner accepted (202) when it sends no `Retry-After`",
  }),
  // Shared with the retention job (`propgate retention run`), which prunes past them too.
  DESTRUCTION_RECORD_YEARS: retentionEnv.DESTRUCTION_RECORD_YEARS,
  JOURNAL_RETENTION_DAYS: retentionEnv.JOURNAL_RETENTION_DAYS,
  FACE_MAX_IMAGE_BYTES: integer(1024, 5 * 1024 * 1024)
    .default(1024 * 1024)
    .meta({ description: "largest face photo (decoded)" }),
  // Invariant 8: list pages and lookups take milliseconds; verify and export walk the whole log.
  ADMIN_READ_STATEMENT_TIMEOUT_MS: integer(100, 600_000).default(10_000).meta({
    description:
      "statement timeout of each admin list page or lookup (one transaction per read); past it the read answers `503 UNAVAILABLE` and gives its connection back",
  }),
  ADMIN_AUDIT_STATEMENT_TIMEOUT_MS: integer(100, 3_600_000).default(60_000).meta({
    description:
      "the same for `admin.audit.verify` and `admin.audit.export` (raise it for a log of many millions of rows); one verify and one export per instance at a time, another gets `429` with `Retry-After`",
  }),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/\S+$/, "must be a redis:// or rediss:// URL")
    .optional()
    .meta({
      description:
        "`redis://…` / `rediss://…`: rate-limit and anomaly counts shared by all instances",
      unset: "– (in memory, per instance)",
    }),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:._-]{1,64}$/, "must be 1-64 of [A-Za-z0-9:._-]")
    .default("propgate:")
    .meta({ description: "prefix of Propgate's keys in Redis" }),
  RATE_LIMIT_IP_PER_MINUTE: integer(1, 1_000_000)
    .default(600)
    .meta({ description: "`/trpc` requests per client IP, counted before authentication" }),
  RATE_LIMIT_RESIDENT_PER_MINUTE: integer(1, 100_000)
    .default(60)
    .meta({ description: "calls per resident, all procedures together" }),
  // One admin screen makes several calls, and partner health refreshes itself every 15 s.
  RATE_LIMIT_ADMIN_PER_MINUTE: integer(1, 100_000)
    .default(600)
    .meta({ description: "calls per admin (a token with an admin role), all procedures together" }),
  // A resident opens a door a few times a minute; hundreds a minute is abuse.
  RATE_LIMIT_OPEN_PER_MINUTE: integer(1, 10_000)
    .default(20)
    .meta({ description: "`intercom.openDoor` + `barrier.open` per resident" }),
  RATE_LIMIT_PARTNER_CLIENT_PER_MINUTE: integer(1, 1_000_000)
    .default(600)
    .meta({ description: "partner-surface requests per partner client" }),
  // Each request costs an argon2id check.
  RATE_LIMIT_PARTNER_TOKEN_PER_CLIENT_PER_MINUTE: integer(1, 100_000).default(30).meta({
    description:
      "`/oauth/token` requests per client id as sent, before its secret is checked; a partner needs a few an hour",
  }),
  // A gateway may hold a few clients.
  RATE_LIMIT_PARTNER_TOKEN_PER_PEER_PER_MINUTE: integer(1, 100_000).default(60).meta({
    description:
      "`/oauth/token` requests per peer address on the partner surface, all client ids together",
  }),
  // A report reads all of a resident's rows; 152-FZ gives them one answer per request, not a feed.
  RATE_LIMIT_PRIVACY_REPORTS_PER_HOUR: integer(1, 10_000).default(6).meta({
    description:
      "`privacy.report` per resident, and `admin.privacy.report` per admin, in an hour; past it `429` with `Retry-After`",
  }),
  RATE_LIMIT_OUTBOUND_PER_SECOND: integer(1, 100_000)
    .default(50)
    .meta({ description: "requests sent to each partner, all instances together" }),
  TRUST_PROXY_CIDRS: cidrList.default([]).meta({
    description:
      "proxies (load balancers; CIDRs or addresses, comma-separated) whose `X-Forwarded-For` names the client for per-IP limits and address blocks",
    production: "a warning at start while unset",
  }),
  // Anomaly rules (packages/api/src/watch/rules.ts); the reasons: docs/operations.md, "Anomalies and blocks".
  ANOMALY_ACCESS_CHECKS_PER_MINUTE: integer(1, 1_000_000)
    .default(300)
    .meta({ description: "access checks by one partner client in a minute before it is blocked" }),
  ANOMALY_ACCESS_CHECK_SUBJECTS_PER_MINUTE: integer(1, 1_000_000)
    .default(200)
    .meta({ description: "distinct subjects one partner client checks in a minute" }),
  ANOMALY_REFUSED_TARGETS_PER_10_MINUTES: integer(1, 100_000).default(10).meta({
    description:
      "distinct devices / sites one resident is refused (`FORBIDDEN_DEVICE` / `FORBIDDEN_SITE`)",
  }),
  ANOMALY_OPENS_PER_10_MINUTES: integer(1, 100_000)
    .default(60)
    .meta({ description: "door and gate opens by one resident" }),
  ANOMALY_AUTH_FAILURES_PER_5_MINUTES: integer(1, 1_000_000)
    .default(30)
    .meta({ description: "bad or missing bearer tokens from one client IP on `/trpc`" }),
  ANOMALY_TOKEN_FAILURES_PER_5_MINUTES: integer(1, 100_000).default(10).meta({
    description:
      "failed sign-ins of one partner client id at `/oauth/token` (twice that per peer address)",
  }),
  ANOMALY_CONSENT_REFUSALS_PER_10_MINUTES: integer(1, 100_000)
    .default(20)
    .meta({ description: "`CONSENT_REQUIRED` answers to one resident" }),
  ANOMALY_KEY_CREATIONS_PER_HOUR: integer(1, 100_000).default(20).meta({
    description:
      "guest keys one resident creates in an hour before their key creation (only) is blocked",
  }),
  BLOCK_BASE_SECONDS: integer(1, 86_400).default(900).meta({
    description:
      "a first block lasts this long; each later one of the same subject twice the one before",
  }),
  BLOCK_MAX_SECONDS: integer(1, 30 * 86_400)
    .default(86_400)
    .meta({ description: "the longest a block lasts" }),
  // Off the database host; without it nothing shows a cut tail (docs/architecture.md, invariant 1).
  AUDIT_SIGNING_KEY_FILE: z.string().min(1).optional().meta({
    description:
      "Ed25519 private key (PEM or JWK) signing the audit chains' checkpoints; keep it off the database host, the same file for every instance",
    production: "required",
  }),
  AUDIT_CHECKPOINT_SECONDS: integer(1, 60).default(10).meta({
    description:
      "new audit rows are signed within this (1–60); a heartbeat checkpoint every minute while idle, a closing one at stop; `audit verify` reads a chain as live for two of these",
  }),
});

/**
 * What the api reads, for the configuration reference (docs/configuration.md): its own
 * settings, the partner surface's, each partner's `PARTNER_<P>_*`, the webhook relay's and the
 * traces' (`OTEL_*`).
 */
export const apiEnvReference = [
  apiEnv,
  partnerSurfaceEnv,
  partnerEnv("<P>"),
  eventsWebhookEnv,
  tracingEnv,
] as const;

export type ApiEnv = ReturnType<typeof loadApiEnv>;

function loadAuditSigner(file: string): AuditSigner {
  const text = readConfigFile("AUDIT_SIGNING_KEY_FILE", file);
  try {
    return createAuditSigner(text);
  } catch {
    throw new ConfigError(
      "AUDIT_SIGNING_KEY_FILE",
      "must hold an Ed25519 private key (PEM or JWK)",
    );
  }
}

/** The api's settings. The only place that reads process.env (through `source`). */
export function loadApiEnv(source: EnvSource = process.env) {
  const base = parseEnv(apiEnv, source);
  const allowInsecureLoopback = base.PROPGATE_ENV !== "production";
  // Partner secrets come from files in production; the environment shows in /proc, docker inspect.
  const partnerOptions = { allowInsecureLoopback, allowInlineSecrets: allowInsecureLoopback };
  if (base.PROPGATE_ENV === "production") {
    // PGlite is one process's database: no roles, no consent bus across instances, none of the
    // guarantees between instances. Production runs on PostgreSQL or not at all.
    if (!base.DATABASE_URL) {
      throw new ConfigError(
        "DATABASE_URL",
        base.DATA_DIR
          ? "is missing: DATA_DIR (embedded PGlite) is for development only"
          : "is missing",
      );
    }
    // Whoever can swap the keys mints admin tokens: the keys come over https only.
    if (base.AUTH_JWKS_URL.protocol !== "https:")
      throw new ConfigError("AUTH_JWKS_URL", "is invalid: must be https in production");
    if (!base.AUDIT_SIGNING_KEY_FILE) {
      throw new ConfigError(
        "AUDIT_SIGNING_KEY_FILE",
        "is missing: production signs the audit chains' checkpoints (an Ed25519 private key)",
      );
    }
  }
  return {
    ...base,
    /** 5 s in production (a load balancer's health check sees `/readyz` fail), 0 elsewhere. */
    shutdownDrainMs: base.SHUTDOWN_DRAIN_MS ?? (base.PROPGATE_ENV === "production" ? 5000 : 0),
    /** The `/metrics` listener; null when METRICS_LISTEN is `off`. */
    metricsListen:
      base.METRICS_LISTEN === "off"
        ? null
        : (base.METRICS_LISTEN ?? {
            hostname: "127.0.0.1",
            port: base.PROPGATE_ENV === "production" ? 9465 : 0,
          }),
    ...databaseSettings(base, { production: base.PROPGATE_ENV === "production" }),
    /** The identity provider's CA (PEM), for a JWKS served under a private CA. */
    authJwksCa: base.AUTH_JWKS_CA_FILE
      ? readConfigFile("AUTH_JWKS_CA_FILE", base.AUTH_JWKS_CA_FILE)
      : null,
    /** HTTPS when both TLS_CERT_FILE and TLS_KEY_FILE are set; plain http when neither is. */
    tls: certificateFiles(base, "TLS_CERT_FILE", "TLS_KEY_FILE"),
    /** The VPN-only partner surface (PARTNER_LISTEN …); null when it is off. */
    partnerSurface: loadPartnerSurfaceConfig(source),
    /** The push relay to tenant-core (`EVENTS_WEBHOOK_*`); null when it is off. */
    eventsWebhook: loadEventsWebhookSettings(source, {
      production: base.PROPGATE_ENV === "production",
    }),
    /** OpenTelemetry traces (`OTEL_*`); null (off) without an OTLP endpoint. */
    tracing: tracingSettings(source, {
      serviceName: "propgate-api",
      production: base.PROPGATE_ENV === "production",
    }),
    /** Signs audit checkpoints; null when AUDIT_SIGNING_KEY_FILE is unset (outside production). */
    auditSigner: base.AUDIT_SIGNING_KEY_FILE ? loadAuditSigner(base.AUDIT_SIGNING_KEY_FILE) : null,
    partners: {
      intercom: partnerSettings("intercom", source, partnerOptions),
      barrier: partnerSettings("barrier", source, partnerOptions),
    },
  };
}
