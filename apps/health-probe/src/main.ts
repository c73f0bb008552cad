import { ConfigError } from "@propgate/config";
import { openDatabase, recordVpnEvent } from "@propgate/consent-audit";
import { createLogger, createMetrics } from "@propgate/observability";
import { createVpnCollector } from "./collector.ts";
import { loadProbeEnv } from "./env.ts";

/** The health probe: collects the VPN connection log and serves /metrics. */
let env: ReturnType<typeof loadProbeEnv>;
try {
  env = loadProbeEnv();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}
const logger = createLogger({ name: "health-probe", level: env.LOG_LEVEL });
const metrics = createMetrics({ app: "health-probe", defaultMetrics: true });
const database = await openDatabase(
  env.DATABASE_URL ? { url: env.DATABASE_URL } : { dataDir: env.DATA_DIR },
);
const collector = createVpnCollector({
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
collector.start(env.VPN_POLL_INTERVAL_MS, (error) =>
  logger.warn({ err: error }, "vpn poll failed"),
);
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
logger.info(
  { url: `http://${server.hostname}:${server.port}`, iface: env.VPN_INTERFACE },
  "health probe listening",
);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, async () => {
    await collector.stop();
    await server.stop(true);
    await database.close();
    process.exit(0);
  });
}
