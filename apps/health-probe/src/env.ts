import {
  ConfigError,
  databaseFileEnv,
  databaseSettings,
  databaseUrl,
  type EnvSource,
  host,
  integer,
  logLevel,
  type PartnerSettings,
  parseEnv,
  partnerEnv,
  partnerSettings,
  port,
  propgateEnv,
  tracingEnv,
  tracingSettings,
  url,
} from "@propgate/config";
import { PARTNERS } from "@propgate/domain";
import { z } from "zod";

const probeEnv = z.object({
  PROPGATE_ENV: propgateEnv.default("production").meta({
    description:
      "`production`, `development` or `test`; outside production plain http to loopback partners and inline partner secrets are allowed",
  }),
  HOST: host
    .default("127.0.0.1")
    .meta({ description: "address `/metrics` and `/healthz` listen on" }),
  PORT: port.default(9464).meta({ description: "port of `/metrics` and `/healthz`" }),
  LOG_LEVEL: logLevel.default("info").meta({ description: "pino log level" }),
  DATABASE_URL: databaseUrl.optional().meta({
    description:
      "PostgreSQL, where each check's state and transitions are kept (`partner_health`); as the api reaches it",
    unset: "– (required unless `DATA_DIR`)",
    production: "a password in it gets a warning at start: use `DATABASE_PASSWORD_FILE`",
  }),
  ...databaseFileEnv,
  DATA_DIR: z.string().optional().meta({
    description:
      "folder of an embedded PGlite database, when there is no `DATABASE_URL` (development)",
  }),
  VPN_INTERFACE: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,15}$/, "must be an interface name")
    .default("wg0")
    .meta({ description: "the WireGuard interface whose peers the connection log follows" }),
  VPN_DUMP_COMMAND: z
    .string()
    .transform((value, ctx) => {
      try {
        return z.array(z.string().min(1)).min(1).parse(JSON.parse(value));
      } catch {
        ctx.addIssue({ code: "custom", message: "must be a JSON array of strings" });
        return z.NEVER;
      }
    })
    .optional()
    .meta({
      description: 'the command that dumps the peers, a JSON array (`["wg","show","wg0","dump"]`)',
      unset: "`wg show <VPN_INTERFACE> dump`",
    }),
  VPN_POLL_INTERVAL_MS: integer(100, 3_600_000)
    .default(10_000)
    .meta({ description: "how often the peers' handshakes are read" }),
  VPN_HANDSHAKE_TIMEOUT_SECONDS: integer(1, 3600)
    .default(180)
    .meta({ description: "a peer without a handshake this long counts as down" }),
  PROBE_INTERVAL_MS: integer(1000, 3_600_000)
    .default(15_000)
    .meta({ description: "how often every partner is probed" }),
  PROBE_TIMEOUT_MS: integer(100, 3_600_000).optional().meta({
    description: "deadline of each check; below `PROBE_INTERVAL_MS`",
    unset: "`5000` (or the interval less 500 ms)",
  }),
  PROBE_FAILURES_TO_ALERT: integer(1, 1000)
    .default(3)
    .meta({ description: "consecutive failures of one check before the webhook hears of it" }),
  ALERT_WEBHOOK_URL: url.optional().meta({
    description:
      "Alertmanager-compatible receiver (`/api/v2/alerts` style) of `firing` / `resolved` notices",
    unset: "– (metrics only)",
  }),
});

/**
 * What the probe reads, for the configuration reference (docs/configuration.md); a partner is
 * probed when its `PARTNER_<P>_BASE_URL` is set, and then read as strictly as the api reads it.
 */
export const probeEnvReference = [probeEnv, partnerEnv("<P>"), tracingEnv] as const;

/** Settings of the health probe; the only reader of process.env. */
export function loadProbeEnv(source: EnvSource = process.env) {
  const env = parseEnv(probeEnv, source);
  if (!env.DATABASE_URL && !env.DATA_DIR)
    throw new ConfigError("DATABASE_URL", "is missing (or set DATA_DIR)");
  const timeoutMs = env.PROBE_TIMEOUT_MS ?? Math.min(5000, env.PROBE_INTERVAL_MS - 500);
  if (timeoutMs >= env.PROBE_INTERVAL_MS)
    throw new ConfigError("PROBE_TIMEOUT_MS", "must be below PROBE_INTERVAL_MS");
  const allowInsecureLoopback = env.PROPGATE_ENV !== "production";
  // The same PARTNER_<P>_* settings as the api, read as strictly (inline secrets refused in
  // production); a partner without a base URL is not probed.
  const partners: PartnerSettings[] = PARTNERS.filter(
    (partner) => source[`PARTNER_${partner.toUpperCase()}_BASE_URL`] !== undefined,
  ).map((partner) =>
    partnerSettings(partner, source, {
      allowInsecureLoopback,
      allowInlineSecrets: allowInsecureLoopback,
    }),
  );
  return {
    ...env,
    ...databaseSettings(env, { production: env.PROPGATE_ENV === "production" }),
    VPN_DUMP_COMMAND: env.VPN_DUMP_COMMAND ?? ["wg", "show", env.VPN_INTERFACE, "dump"],
    PROBE_TIMEOUT_MS: timeoutMs,
    allowInsecureLoopback,
    partners,
    /** A span per check (`OTEL_*`); null (off) without an OTLP endpoint. */
    tracing: tracingSettings(source, {
      serviceName: "propgate-health-probe",
      production: env.PROPGATE_ENV === "production",
    }),
  };
}
