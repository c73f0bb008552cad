import { type EnvSource, host, integer, logLevel, parseEnv, port } from "@propgate/config";
import { z } from "zod";

const schema = z.object({
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
});

/** Settings of the health probe; the only reader of process.env. */
export function loadProbeEnv(source: EnvSource = process.env) {
  const env = parseEnv(schema, source);
  if (!env.DATABASE_URL && !env.DATA_DIR) parseEnv(z.object({ DATABASE_URL: z.string() }), source);
  return {
    ...env,
    VPN_DUMP_COMMAND: env.VPN_DUMP_COMMAND ?? ["wg", "show", env.VPN_INTERFACE, "dump"],
  };
}
