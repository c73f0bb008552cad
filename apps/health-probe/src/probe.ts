import {
  type DatabaseHandle,
  loadPartnerHealth,
  openConfiguredDatabase,
  recordVpnEvent,
  savePartnerHealth,
} from "@propgate/consent-audit";
import {
  createLogger,
  createMetrics,
  createTracing,
  type LogDestination,
  type Logger,
} from "@propgate/observability";
import type { CheckStatus } from "./alerts.ts";
import { createVpnCollector } from "./collector.ts";
import type { loadProbeEnv } from "./env.ts";
import { createPartnerProbe, PROBE_CHECKS, type ProbeCheck } from "./partner-probe.ts";
import { createProbeLoop, type ProbeLoop } from "./probe-loop.ts";

export type ProbeEnv = ReturnType<typeof loadProbeEnv>;

export interface RunningProbe {
  url: string;
  loop: ProbeLoop;
  metrics: ReturnType<typeof createMetrics>;
  stop(): Promise<void>;
}

/**
 * The health probe: probes every configured partner each PROBE_INTERVAL_MS (token, health,
 * certificate), exports the results on /metrics, keeps their history in PostgreSQL and tells
 * the alert webhook of failures that last; collects the VPN connection log beside it.
 * `vpn: false` leaves the WireGuard collector out (tests of the partner checks).
 */
export async function startHealthProbe(
  env: ProbeEnv,
  options: {
    database?: DatabaseHandle;
    logDestination?: LogDestination;
    logger?: Logger;
    vpn?: boolean;
  } = {},
): Promise<RunningProbe> {
  const logger =
    options.logger ??
    createLogger({
      name: "health-probe",
      level: env.LOG_LEVEL,
      destination: options.logDestination,
    });
  const metrics = createMetrics({
    app: "health-probe",
    defaultMetrics: options.database === undefined,
  });
  const database = options.database ?? (await openConfiguredDatabase(env, env.DATA_DIR));
  if (env.inlineDatabasePasswordWarning) logger.warn(env.inlineDatabasePasswordWarning);
  const collector =
    options.vpn === false
      ? null
      : createVpnCollector({
          iface: env.VPN_INTERFACE,
          command: env.VPN_DUMP_COMMAND,
          handshakeTimeoutSeconds: env.VPN_HANDSHAKE_TIMEOUT_SECONDS,
          metrics,
          record: async (event) => {
            await recordVpnEvent(database.db, event);
            logger.info(
              {
                iface: event.iface,
                peer: event.peerFingerprint,
                ip: event.endpointIp,
                kind: event.kind,
                at: event.at.toISOString(),
              },
              "vpn connection event",
            );
          },
        });
  collector?.start(env.VPN_POLL_INTERVAL_MS, (error) =>
    logger.warn({ err: error }, "vpn poll failed"),
  );
  const tracing = await createTracing(env.tracing);
  const loop = createProbeLoop({
    probes: env.partners.map((settings) =>
      createPartnerProbe(settings, {
        timeoutMs: env.PROBE_TIMEOUT_MS,
        allowInsecureLoopback: env.allowInsecureLoopback,
        tracing,
      }),
    ),
    store: {
      load: async () =>
        (await loadPartnerHealth(database.db)).flatMap((status): CheckStatus[] =>
          PROBE_CHECKS.includes(status.check as ProbeCheck)
            ? [{ ...status, check: status.check as ProbeCheck }]
            : [],
        ),
      save: (statuses, transitions) => savePartnerHealth(database.db, statuses, transitions),
    },
    metrics,
    logger,
    failuresToAlert: env.PROBE_FAILURES_TO_ALERT,
    webhookUrl: env.ALERT_WEBHOOK_URL ?? null,
    webhookTimeoutMs: env.PROBE_TIMEOUT_MS,
  });
  loop.start(env.PROBE_INTERVAL_MS);
  const server = Bun.serve({
    hostname: env.HOST,
    port: env.PORT,
    async fetch(request) {
      const { pathname } = new URL(request.url);
      if (pathname === "/metrics") {
        return new Response(await metrics.registry.metrics(), {
          headers: { "content-type": metrics.registry.contentType },
        });
      }
      if (pathname === "/healthz") return Response.json({ status: "ok" });
      return Response.json(
        { error: { code: "NOT_FOUND", message: "no such route" } },
        { status: 404 },
      );
    },
  });
  const url = `http://${server.hostname}:${server.port}`;
  logger.info(
    { url, iface: env.VPN_INTERFACE, partners: env.partners.map((p) => p.name) },
    "health probe listening",
  );
  return {
    url,
    loop,
    metrics,
    async stop() {
      await loop.stop();
      await collector?.stop();
      await server.stop(true);
      // The last rounds' spans go out before the process ends.
      await tracing.shutdown().catch((error) => logger.warn({ err: error }, "traces not sent"));
      if (!options.database) await database.close();
    },
  };
}
