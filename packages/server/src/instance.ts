import { hostname } from "node:os";
import {
  closeRedis,
  createAdminReadLimits,
  createInflightCalls,
  createJournalEvents,
  createPartners,
  createRateLimits,
  createResidentVerifier,
  createUnitConfirmer,
  createWatch,
  databaseJournal,
  openRedis,
  outboundRateLimit,
  type PartnerTuning,
  ServiceUnavailableError,
  type WatchSettings,
} from "@propgate/api";
import {
  CHECKPOINT_LOG_MESSAGE,
  checkpointLogFields,
  createBlockList,
  createCallAuditWriter,
  createConsentCache,
  createDeviceCache,
  createJournalWriter,
  createSubjectRegistry,
  type DatabaseHandle,
  migrateDatabase,
  openConfiguredDatabase,
} from "@propgate/consent-audit";
import {
  createLogger,
  createMetrics,
  createTracing,
  type LogDestination,
  type Logger,
} from "@propgate/observability";
import { subjectFor } from "@propgate/partner-client";
import type { CreateAppOptions, ServerDeps } from "./app.ts";
import { type Background, startBackground } from "./background.ts";
import { createClientAddressResolver } from "./client-address.ts";
import type { ApiEnv } from "./env.ts";
import { bindListener } from "./net/listen.ts";
import { type RunningPartnerSurface, servePartnerSurface } from "./partner-surface/surface.ts";
import { type RunningApi, serveApi, serveMetrics } from "./serve.ts";

export interface InstanceOptions extends CreateAppOptions {
  /** An already open database (tests); otherwise DATABASE_URL or PGlite under DATA_DIR. */
  database?: DatabaseHandle;
  /** Apply migrations at start (the embedded default does; production runs `migrate`). */
  migrate?: boolean;
  logDestination?: LogDestination;
  logger?: Logger;
  tuning?: PartnerTuning;
}

/** One running api instance: its listeners, its long-lived parts and its background work. */
export interface Instance {
  api: RunningApi;
  /** The partner surface, when the settings have PARTNER_LISTEN. */
  partnerSurface: RunningPartnerSurface | null;
  /** `/metrics`, on its own listener (METRICS_LISTEN); null when it is `off`. */
  metrics: RunningApi | null;
  deps: ServerDeps;
  background: Background;
  /** `/readyz` answers 503 from now on (a load balancer stops sending); everything else runs. */
  drain(): void;
  /**
   * Stops the listeners (requests in flight may finish within `graceMs`), the background work,
   * the audit writer (flushed, its chains closed by signed checkpoints) and the pools, in that
   * order.
   */
  stop(options?: { graceMs?: number }): Promise<void>;
}

/**
 * The one startup path (docs/architecture.md): production `main.ts`, the embedded default and
 * the test harness all start an instance here, from parsed settings.
 */
export async function startInstance(env: ApiEnv, options: InstanceOptions = {}): Promise<Instance> {
  const deps = await createDeps(env, options);
  const background = await startBackground(deps, env);
  if (!env.auditSigner) {
    deps.logger.warn(
      "AUDIT_SIGNING_KEY_FILE is unset: the audit chains get no signed checkpoints, so a cut tail or a rebuilt chain goes unseen",
    );
  }
  // Each bind names its variable when it fails (a second instance on the host, most often).
  const bound: Array<{ stop(): Promise<void> }> = [];
  const bind = <T extends { stop(): Promise<void> }>(
    variable: string,
    address: { hostname: string; port: number },
    serve: () => T,
  ): T => {
    const listener = bindListener(variable, address, serve);
    bound.unshift(listener);
    return listener;
  };
  let api: RunningApi;
  let partnerSurface: RunningPartnerSurface | null;
  let metrics: RunningApi | null;
  try {
    api = bind("PORT", { hostname: env.HOST, port: env.PORT }, () =>
      serveApi(deps, {
        hostname: env.HOST,
        port: env.PORT,
        tls: env.tls,
        mount: options.mount,
        serveOpenApi: env.PROPGATE_ENV !== "production",
        serverTiming: env.PROPGATE_ENV !== "production",
      }),
    );
    const surface = env.partnerSurface;
    partnerSurface = surface
      ? bind("PARTNER_LISTEN", surface.listen, () =>
          servePartnerSurface(
            {
              database: deps.database,
              logger: deps.logger,
              metrics: deps.metrics,
              instanceId: deps.settings.instanceId,
              rateLimits: deps.rateLimits,
              watch: deps.watch,
            },
            // Outbox rows only when a relay will send them (EVENTS_WEBHOOK_URL).
            { ...surface, webhookOutbox: deps.settings.eventsWebhook !== null },
          ),
        )
      : null;
    const metricsListen = env.metricsListen;
    metrics = metricsListen
      ? bind("METRICS_LISTEN", metricsListen, () => serveMetrics(deps, metricsListen))
      : null;
  } catch (error) {
    // Nothing serves: stop what did start, so the pools and the audit chains close cleanly.
    for (const listener of bound) await listener.stop();
    await background.stop();
    await closeDeps(deps, options);
    throw error;
  }
  if (metrics) deps.logger.info({ url: `${metrics.url}/metrics` }, "metrics listening");
  return {
    api,
    partnerSurface,
    metrics,
    deps,
    background,
    drain() {
      deps.lifecycle.draining = true;
    },
    async stop(stopOptions = {}) {
      deps.lifecycle.draining = true;
      await partnerSurface?.stop();
      // Open event streams would hold the listener's stop for the whole grace: end them first;
      // their clients reconnect elsewhere with `Last-Event-ID` and miss nothing.
      deps.journalEvents.hub.close(
        new ServiceUnavailableError("this instance is stopping; reconnect", 1),
      );
      await api.stop(stopOptions.graceMs);
      // A call whose client hung up is not a request the server waits for: let it finish (its
      // audit rows go in the flush below), within the grace or a bounded wait.
      await deps.inflight.idle(Math.max(stopOptions.graceMs ?? 0, STOP_INFLIGHT_WAIT_MS));
      await metrics?.stop();
      await background.stop();
      await closeDeps(deps, options);
    },
  };
}

/** Closes the long-lived parts, the background work stopped: the audit writer first. */
async function closeDeps(deps: ServerDeps, options: InstanceOptions): Promise<void> {
  await deps.journalWriter.close();
  // Flushed, then the closing checkpoints: a chain that ends without one reads as cut or crashed.
  await deps.auditWriter
    .close()
    .catch((error) => deps.logger.error({ err: error }, "audit closing checkpoint failed"));
  await deps.rateLimits.close();
  await deps.watch.close();
  if (deps.redis) closeRedis(deps.redis);
  await deps.watch.blocks.close();
  await deps.devices.close();
  // The last requests' spans go out (SIGTERM's path ends here too).
  await deps.tracing
    .shutdown()
    .catch((error) => deps.logger.warn({ err: error }, "traces not sent"));
  // A database handed in belongs to the caller.
  if (!options.database) await deps.database.close();
}

/** How long `stop()` waits at least for partner calls still in flight (their deadline is shorter). */
const STOP_INFLIGHT_WAIT_MS = 2_000;

/** Builds the long-lived parts of one api instance from its settings. */
async function createDeps(env: ApiEnv, options: InstanceOptions): Promise<ServerDeps> {
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
  const database = options.database ?? (await openConfiguredDatabase(env, env.DATA_DIR));
  if (env.inlineDatabasePasswordWarning) logger.warn(env.inlineDatabasePasswordWarning);
  if (options.migrate) await migrateDatabase(database);
  for (const settings of Object.values(env.partners)) {
    if (settings.baseUrl.protocol === "http:") {
      logger.warn(
        { partner: settings.name },
        "partner reached over plain http: allowed for loopback in development only",
      );
    }
  }
  if (env.PROPGATE_ENV === "production" && env.TRUST_PROXY_CIDRS.length === 0) {
    // Behind a load balancer every client then has the balancer's address: one per-IP limit
    // and one address block for all (blocks still spare valid tokens, invariant 7).
    logger.warn(
      "TRUST_PROXY_CIDRS is unset: behind a load balancer, per-IP limits and address blocks see the balancer's address, not the clients'; set it to the balancer's addresses",
    );
  }
  const blocks = await createBlockList(database, {
    onError: (error) => logger.error({ err: error }, "block list reload failed"),
  });
  metrics.observeActiveBlocks(() => blocks.counts());
  // One connection for the rate limits and the anomaly rules, opened after the last await before
  // both start following it, so neither misses its first state change.
  const redis = env.REDIS_URL ? openRedis(env.REDIS_URL) : null;
  const perMinute = (quota: number) => ({ quota, windowSeconds: 60 });
  const rateLimits = createRateLimits(
    {
      policies: {
        ip: perMinute(env.RATE_LIMIT_IP_PER_MINUTE),
        resident: perMinute(env.RATE_LIMIT_RESIDENT_PER_MINUTE),
        admin: perMinute(env.RATE_LIMIT_ADMIN_PER_MINUTE),
        open: perMinute(env.RATE_LIMIT_OPEN_PER_MINUTE),
        partner_client: perMinute(env.RATE_LIMIT_PARTNER_CLIENT_PER_MINUTE),
        partner_token_peer: perMinute(env.RATE_LIMIT_PARTNER_TOKEN_PER_PEER_PER_MINUTE),
        partner_token_client: perMinute(env.RATE_LIMIT_PARTNER_TOKEN_PER_CLIENT_PER_MINUTE),
        outbound: { quota: env.RATE_LIMIT_OUTBOUND_PER_SECOND, windowSeconds: 1 },
        privacy_report: { quota: env.RATE_LIMIT_PRIVACY_REPORTS_PER_HOUR, windowSeconds: 3600 },
      },
      keyPrefix: env.REDIS_KEY_PREFIX,
    },
    { metrics, logger, redis },
  );
  const tracing = await createTracing(env.tracing);
  const partners = createPartners(env.partners, {
    metrics,
    logger,
    tracing,
    allowInsecureLoopback: env.PROPGATE_ENV !== "production",
    tuning: options.tuning,
    beforeSend: outboundRateLimit(rateLimits),
  });
  // Attempts and refusals on one chain, answers on another (their rows stay out of attempts').
  const auditWriter = createCallAuditWriter(database.db, {
    signer: env.auditSigner ?? undefined,
    checkpointEveryMs: env.AUDIT_CHECKPOINT_SECONDS * 1000,
    // A copy of every checkpoint outside the database: the log stream (`audit verify --checkpoints`).
    onCheckpoint: (checkpoint) =>
      logger.info(checkpointLogFields(checkpoint), CHECKPOINT_LOG_MESSAGE),
    onCheckpointError: (error) => logger.error({ err: error }, "audit checkpoint failed"),
    onWriteError: (error, rows) => {
      metrics.auditWriteFailures.inc();
      logger.error({ err: error, rows }, "audit batch failed");
    },
    // Rows of answers only (an attempt's caller gets the error and sends nothing): logged whole
    // (opaque ids, no personal data), so they can be re-entered from the log.
    onRowsLost: (rows, error) => {
      metrics.auditRowsLost.inc(rows.length);
      logger.error({ err: error, rows }, "audit rows lost");
    },
  });
  const journalWriter = createJournalWriter(database.db, {
    outbox: env.eventsWebhook !== null,
  });
  metrics.observeAuditPending(() => auditWriter.stats.pending);
  const watch = createWatch(watchSettings(env), {
    database,
    blocks,
    metrics,
    logger,
    audit: { sourceApp: "api", instanceId, actor: "propgate" },
    redis,
  });
  const consents = createConsentCache(database);
  return {
    settings: {
      instanceId,
      video: {
        maxSessionsPerResident: env.VIDEO_MAX_SESSIONS_PER_RESIDENT,
        sessionMaxSeconds: env.VIDEO_SESSION_MAX_SECONDS,
        endRetry: {
          baseRetrySeconds: env.VIDEO_END_RETRY_BASE_SECONDS,
          maxRetrySeconds: env.VIDEO_END_RETRY_MAX_SECONDS,
        },
      },
      guestKeys: { maxHours: env.GUEST_KEY_MAX_HOURS, maxActive: env.GUEST_KEYS_MAX_ACTIVE },
      faceMaxImageBytes: env.FACE_MAX_IMAGE_BYTES,
      auditVerifyKey: env.auditSigner?.publicKey ?? null,
      destructionRecordYears: env.DESTRUCTION_RECORD_YEARS,
      eventsWebhook: env.eventsWebhook,
      maxBodyBytes: env.MAX_BODY_BYTES,
    },
    database,
    auditWriter,
    journalWriter,
    watch,
    redis,
    devices: await createDeviceCache(database),
    consents,
    adminReads: createAdminReadLimits({
      readStatementTimeoutMs: env.ADMIN_READ_STATEMENT_TIMEOUT_MS,
      auditStatementTimeoutMs: env.ADMIN_AUDIT_STATEMENT_TIMEOUT_MS,
    }),
    logger,
    metrics,
    tracing,
    rateLimits,
    rateLimitAddress: createClientAddressResolver(env.TRUST_PROXY_CIDRS),
    lifecycle: { draining: false },
    inflight: createInflightCalls(),
    journalEvents: createJournalEvents(databaseJournal(database, consents), {
      maxStreamsPerResident: env.EVENTS_MAX_STREAMS_PER_RESIDENT,
      maxStreams: env.EVENTS_MAX_STREAMS,
    }),
    subjects: createSubjectRegistry(database.db, (partner, userId) =>
      subjectFor(userId, partners[partner].subjectKey),
    ),
    units: createUnitConfirmer(database.db),
    receiptSigner: env.auditSigner,
    verifier: createResidentVerifier({
      issuer: env.AUTH_ISSUER,
      audience: env.AUTH_AUDIENCE,
      jwksUrl: env.AUTH_JWKS_URL,
      jwksCa: env.authJwksCa ?? undefined,
    }),
    partners,
  };
}

/** The anomaly rules' thresholds and windows from the settings (docs/configuration.md). */
function watchSettings(env: ApiEnv): WatchSettings {
  const rule = (threshold: number, windowSeconds: number) => ({ threshold, windowSeconds });
  return {
    rules: {
      access_checks: rule(env.ANOMALY_ACCESS_CHECKS_PER_MINUTE, 60),
      access_check_subjects: rule(env.ANOMALY_ACCESS_CHECK_SUBJECTS_PER_MINUTE, 60),
      refused_targets: rule(env.ANOMALY_REFUSED_TARGETS_PER_10_MINUTES, 600),
      opens: rule(env.ANOMALY_OPENS_PER_10_MINUTES, 600),
      auth_failures: rule(env.ANOMALY_AUTH_FAILURES_PER_5_MINUTES, 300),
      token_failures_client: rule(env.ANOMALY_TOKEN_FAILURES_PER_5_MINUTES, 300),
      // A peer may front several partner clients: twice the per-client figure.
      token_failures_peer: rule(env.ANOMALY_TOKEN_FAILURES_PER_5_MINUTES * 2, 300),
      consent_refusals: rule(env.ANOMALY_CONSENT_REFUSALS_PER_10_MINUTES, 600),
      outside_vpn: rule(1, 600),
      key_creations: rule(env.ANOMALY_KEY_CREATIONS_PER_HOUR, 3600),
    },
    blockBaseSeconds: env.BLOCK_BASE_SECONDS,
    blockMaxSeconds: Math.max(env.BLOCK_BASE_SECONDS, env.BLOCK_MAX_SECONDS),
    keyPrefix: env.REDIS_KEY_PREFIX,
  };
}
