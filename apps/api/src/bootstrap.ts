import { hostname } from "node:os";
import { type DatabaseHandle, migrateDatabase, openDatabase } from "@propgate/consent-audit";
import {
  createLogger,
  createMetrics,
  type LogDestination,
  type Logger,
} from "@propgate/observability";
import { createResidentVerifier } from "./auth.ts";
import { createInflightCalls } from "./consent/inflight.ts";
import type { AppDeps } from "./deps.ts";
import type { ApiEnv } from "./env.ts";
import { createPartners, type PartnerTuning } from "./partners.ts";
import { createClientAddressResolver } from "./rate-limit/client-address.ts";
import { createRateLimits } from "./rate-limit/limits.ts";
import { outboundRateLimit } from "./rate-limit/outbound.ts";

export interface BootstrapOptions {
  /** An already open database (tests); otherwise DATABASE_URL or PGlite under DATA_DIR. */
  database?: DatabaseHandle;
  /** Apply migrations at start (the embedded default does; production runs `migrate`). */
  migrate?: boolean;
  logDestination?: LogDestination;
  logger?: Logger;
  tuning?: PartnerTuning;
}

/** Builds the long-lived parts of one api instance from its settings. */
export async function createDeps(env: ApiEnv, options: BootstrapOptions = {}): Promise<AppDeps> {
  const instanceId =
    env.INSTANCE_ID ?? `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
  const logger =
    options.logger ??
    createLogger({
      name: "api",
      level: env.LOG_LEVEL,
      destination: options.logDestination,
      base: { instanceId },
    });
  const metrics = createMetrics({ app: "api", defaultMetrics: options.database === undefined });
  const database =
    options.database ??
    (await openDatabase(env.DATABASE_URL ? { url: env.DATABASE_URL } : { dataDir: env.DATA_DIR }));
  if (options.migrate) await migrateDatabase(database);
  const allowInsecureLoopback = env.PROPGATE_ENV !== "production";
  for (const settings of Object.values(env.partners)) {
    if (settings.baseUrl.protocol === "http:") {
      logger.warn(
        { partner: settings.name },
        "partner reached over plain http: allowed for loopback in development only",
      );
    }
  }
  const perMinute = (quota: number) => ({ quota, windowSeconds: 60 });
  const rateLimits = createRateLimits(
    {
      policies: {
        ip: perMinute(env.RATE_LIMIT_IP_PER_MINUTE),
        resident: perMinute(env.RATE_LIMIT_RESIDENT_PER_MINUTE),
        open: perMinute(env.RATE_LIMIT_OPEN_PER_MINUTE),
        partner_client: perMinute(env.RATE_LIMIT_PARTNER_CLIENT_PER_MINUTE),
        outbound: { quota: env.RATE_LIMIT_OUTBOUND_PER_SECOND, windowSeconds: 1 },
      },
      redisUrl: env.REDIS_URL,
      keyPrefix: env.REDIS_KEY_PREFIX,
    },
    { metrics, logger },
  );
  return {
    database,
    logger,
    metrics,
    instanceId,
    rateLimits,
    rateLimitAddress: createClientAddressResolver(env.TRUST_PROXY_CIDRS),
    maxBodyBytes: env.MAX_BODY_BYTES,
    videoMaxSessionsPerResident: env.VIDEO_MAX_SESSIONS_PER_RESIDENT,
    faceMaxImageBytes: env.FACE_MAX_IMAGE_BYTES,
    devPages: env.PROPGATE_ENV === "development",
    inflight: createInflightCalls(),
    verifier: createResidentVerifier({
      issuer: env.AUTH_ISSUER,
      audience: env.AUTH_AUDIENCE,
      jwksUrl: env.AUTH_JWKS_URL,
    }),
    partners: createPartners(env.partners, {
      metrics,
      logger,
      allowInsecureLoopback,
      tuning: options.tuning,
      beforeSend: outboundRateLimit(rateLimits),
    }),
  };
}
