import {
  ConfigError,
  certificateFiles,
  databaseCa,
  databasePassword,
  databaseUrlPasswordWarning,
  type EnvSource,
  host,
  integer,
  listenAddress,
  logLevel,
  parseEnv,
  partnerSettings,
  port,
  propgateEnv,
  readConfigFile,
  url,
} from "@propgate/config";
import { type AuditSigner, createAuditSigner } from "@propgate/consent-audit";
import { z } from "zod";
import { cidrList } from "./client-address.ts";
import { loadPartnerSurfaceConfig } from "./partner-surface/config.ts";

const schema = z.object({
  PROPGATE_ENV: propgateEnv.default("production"),
  HOST: host.default("127.0.0.1"),
  PORT: port.default(8080),
  LOG_LEVEL: logLevel.default("info"),
  /**
   * On SIGTERM: `/readyz` answers 503 for SHUTDOWN_DRAIN_MS (the load balancer stops sending),
   * then the listener closes and requests in flight finish; the process exits within
   * SHUTDOWN_GRACE_MS of the signal whatever happens.
   */
  SHUTDOWN_DRAIN_MS: integer(0, 600_000).optional(),
  SHUTDOWN_GRACE_MS: integer(1000, 600_000).default(15_000),
  /**
   * Where `/metrics` is served: its own listener, never the residents' port. `off` serves none.
   * Default: 127.0.0.1:9465 in production (the health probe takes 9464), a free loopback port elsewhere.
   */
  METRICS_LISTEN: z.union([z.literal("off"), listenAddress]).optional(),
  INSTANCE_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, "must be 1-64 of [A-Za-z0-9._-]")
    .optional(),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL")
    .optional(),
  DATA_DIR: z.string().optional(),
  AUTH_ISSUER: z.string().min(1),
  AUTH_AUDIENCE: z.string().min(1),
  AUTH_JWKS_URL: url,
  /** The CA that signed the identity provider's certificate, when it is not a public one. */
  AUTH_JWKS_CA_FILE: z.string().optional(),
  MAX_BODY_BYTES: integer(1024, 10 * 1024 * 1024).default(64 * 1024),
  VIDEO_MAX_SESSIONS_PER_RESIDENT: integer(1, 20).default(2),
  /** The longest a video session runs; a partner that names no end (WHEP) gets this one. */
  VIDEO_SESSION_MAX_SECONDS: integer(5, 86_400).default(3600),
  /** How often the video end queue is looked at (a revocation wakes it at once). */
  VIDEO_END_INTERVAL_MS: integer(100, 60_000).default(1000),
  /** Back-off of a failed DELETE at the partner: short, so a partner back up is caught at once. */
  VIDEO_END_RETRY_BASE_SECONDS: integer(1, 3600).default(1),
  VIDEO_END_RETRY_MAX_SECONDS: integer(1, 3600).default(4),
  ERASURE_INTERVAL_MS: integer(100, 3_600_000).default(5000),
  ERASURE_RETRY_BASE_SECONDS: integer(1, 3600).default(5),
  ERASURE_RETRY_MAX_SECONDS: integer(1, 86_400).default(3600),
  /** 72 h: well inside the 30 days 152-FZ allows for destroying data after consent is withdrawn. */
  ERASURE_OVERDUE_SECONDS: integer(60, 30 * 86_400).default(72 * 3600),
  FACE_MAX_IMAGE_BYTES: integer(1024, 5 * 1024 * 1024).default(1024 * 1024),
  /**
   * Admin reads' `statement_timeout` (invariant 8): list pages and lookups take milliseconds;
   * an audit verify or export walks the whole log (raise it for a log of many millions of rows).
   */
  ADMIN_READ_STATEMENT_TIMEOUT_MS: integer(100, 600_000).default(10_000),
  ADMIN_AUDIT_STATEMENT_TIMEOUT_MS: integer(100, 3_600_000).default(60_000),
  /** Shared rate-limit counters across instances; in-memory per instance when unset. */
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/\S+$/, "must be a redis:// or rediss:// URL")
    .optional(),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:._-]{1,64}$/, "must be 1-64 of [A-Za-z0-9:._-]")
    .default("propgate:"),
  RATE_LIMIT_IP_PER_MINUTE: integer(1, 1_000_000).default(600),
  RATE_LIMIT_RESIDENT_PER_MINUTE: integer(1, 100_000).default(60),
  /** A resident opens a door a few times a minute; hundreds a minute is abuse. */
  RATE_LIMIT_OPEN_PER_MINUTE: integer(1, 10_000).default(20),
  RATE_LIMIT_PARTNER_CLIENT_PER_MINUTE: integer(1, 1_000_000).default(600),
  /** A partner needs a token every few minutes; each request costs an argon2id check. */
  RATE_LIMIT_PARTNER_TOKEN_PER_CLIENT_PER_MINUTE: integer(1, 100_000).default(30),
  /** Per peer address, all client ids together (a gateway may hold a few clients). */
  RATE_LIMIT_PARTNER_TOKEN_PER_PEER_PER_MINUTE: integer(1, 100_000).default(60),
  RATE_LIMIT_OUTBOUND_PER_SECOND: integer(1, 100_000).default(50),
  /** Proxies (load balancers) whose X-Forwarded-For is believed for the per-IP limit. */
  TRUST_PROXY_CIDRS: cidrList.default([]),
  // Anomaly rules (packages/api/src/watch.ts); the README's configuration table gives the reasons.
  ANOMALY_ACCESS_CHECKS_PER_MINUTE: integer(1, 1_000_000).default(300),
  ANOMALY_ACCESS_CHECK_SUBJECTS_PER_MINUTE: integer(1, 1_000_000).default(200),
  ANOMALY_REFUSED_TARGETS_PER_10_MINUTES: integer(1, 100_000).default(10),
  ANOMALY_OPENS_PER_10_MINUTES: integer(1, 100_000).default(60),
  ANOMALY_AUTH_FAILURES_PER_5_MINUTES: integer(1, 1_000_000).default(30),
  ANOMALY_TOKEN_FAILURES_PER_5_MINUTES: integer(1, 100_000).default(10),
  ANOMALY_CONSENT_REFUSALS_PER_10_MINUTES: integer(1, 100_000).default(20),
  /** A first block lasts this long; each later one of the same subject twice the one before. */
  BLOCK_BASE_SECONDS: integer(1, 86_400).default(900),
  BLOCK_MAX_SECONDS: integer(1, 30 * 86_400).default(86_400),
  /**
   * Ed25519 private key that signs the audit chains' checkpoints; kept off the database host.
   * Required in production: without it nothing shows a cut tail (docs/architecture.md, invariant 1).
   */
  AUDIT_SIGNING_KEY_FILE: z.string().min(1).optional(),
  /** New audit rows are signed within this; `audit verify` reads a chain as live for two of it. */
  AUDIT_CHECKPOINT_SECONDS: integer(1, 60).default(10),
});

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
  const base = parseEnv(schema, source);
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
    /** The CA (PEM) that signed the PostgreSQL server's certificate, for sslmode=verify-full. */
    databaseCa: databaseCa(source),
    /** The database role's password from DATABASE_PASSWORD_FILE; undefined: DATABASE_URL's own. */
    databasePassword: databasePassword(source),
    /** Logged once at start in production when DATABASE_URL carries the password; else null. */
    inlineDatabasePasswordWarning:
      base.PROPGATE_ENV === "production" ? databaseUrlPasswordWarning(source) : null,
    /** The identity provider's CA (PEM), for a JWKS served under a private CA. */
    authJwksCa: base.AUTH_JWKS_CA_FILE
      ? readConfigFile("AUTH_JWKS_CA_FILE", base.AUTH_JWKS_CA_FILE)
      : null,
    /** HTTPS when both TLS_CERT_FILE and TLS_KEY_FILE are set; plain http when neither is. */
    tls: certificateFiles(source, "TLS_CERT_FILE", "TLS_KEY_FILE"),
    /** The VPN-only partner surface (PARTNER_LISTEN …); null when it is off. */
    partnerSurface: loadPartnerSurfaceConfig(source),
    /** Signs audit checkpoints; null when AUDIT_SIGNING_KEY_FILE is unset (outside production). */
    auditSigner: base.AUDIT_SIGNING_KEY_FILE ? loadAuditSigner(base.AUDIT_SIGNING_KEY_FILE) : null,
    partners: {
      intercom: partnerSettings("intercom", source, partnerOptions),
      barrier: partnerSettings("barrier", source, partnerOptions),
    },
  };
}
