import {
  ConfigError,
  databaseCa,
  databasePassword,
  databaseUrlPasswordWarning,
  type EnvSource,
  host,
  integer,
  logLevel,
  type PartnerSettings,
  parseEnv,
  partnerSettings,
  port,
  propgateEnv,
  url,
} from "@propgate/config";
import { PARTNERS } from "@propgate/domain";
import { z } from "zod";

const schema = z.object({
  PROPGATE_ENV: propgateEnv.default("production"),
  HOST: host.default("127.0.0.1"),
  PORT: port.default(9464),
  LOG_LEVEL: logLevel.default("info"),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL")
    .optional(),
  DATA_DIR: z.string().optional(),
  VPN_INTERFACE: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,15}$/, "must be an interface name")
    .default("wg0"),
  /** JSON array, e.g. ["wg","show","wg0","dump"]; defaults to that for VPN_INTERFACE. */
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
    .optional(),
  VPN_POLL_INTERVAL_MS: integer(100, 3_600_000).default(10_000),
  VPN_HANDSHAKE_TIMEOUT_SECONDS: integer(1, 3600).default(180),
  /** How often every partner is probed; each probe's timeout is below it. */
  PROBE_INTERVAL_MS: integer(1000, 3_600_000).default(15_000),
  PROBE_TIMEOUT_MS: integer(100, 3_600_000).optional(),
  /** Consecutive failures of one check before the webhook hears of it. */
  PROBE_FAILURES_TO_ALERT: integer(1, 1000).default(3),
  /** Alertmanager-compatible receiver (`/api/v2/alerts` style webhook); none: metrics only. */
  ALERT_WEBHOOK_URL: url.optional(),
});

/** Settings of the health probe; the only reader of process.env. */
export function loadProbeEnv(source: EnvSource = process.env) {
  const env = parseEnv(schema, source);
  if (!env.DATABASE_URL && !env.DATA_DIR) parseEnv(z.object({ DATABASE_URL: z.string() }), source);
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
    /** The CA (PEM) that signed the PostgreSQL server's certificate, for sslmode=verify-full. */
    databaseCa: databaseCa(source),
    /** The database role's password from DATABASE_PASSWORD_FILE; undefined: DATABASE_URL's own. */
    databasePassword: databasePassword(source),
    /** Logged once at start in production when DATABASE_URL carries the password; else null. */
    inlineDatabasePasswordWarning:
      env.PROPGATE_ENV === "production" ? databaseUrlPasswordWarning(source) : null,
    VPN_DUMP_COMMAND: env.VPN_DUMP_COMMAND ?? ["wg", "show", env.VPN_INTERFACE, "dump"],
    PROBE_TIMEOUT_MS: timeoutMs,
    allowInsecureLoopback,
    partners,
  };
}
