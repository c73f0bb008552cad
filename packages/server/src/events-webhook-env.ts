import type { EventsWebhookSettings } from "@propgate/api";
import {
  ConfigError,
  type EnvSource,
  integer,
  isLoopbackHost,
  parseEnv,
  readConfigFile,
  url,
} from "@propgate/config";
import { z } from "zod";

/** The push relay to tenant-core (issue 26): off unless `EVENTS_WEBHOOK_URL` is set. */
export const eventsWebhookEnv = z.object({
  EVENTS_WEBHOOK_URL: url.optional().meta({
    description:
      "tenant-core's webhook: each resident event is relayed there, signed per Standard Webhooks, from a durable outbox",
    unset: "– (no outbox rows are written, no worker runs)",
    production: "must be https",
  }),
  EVENTS_WEBHOOK_SECRET_FILE: z.string().optional().meta({
    description:
      "file holding the signing secret, `whsec_<base64 of 24–64 bytes>` (read once at start, trimmed); required with `EVENTS_WEBHOOK_URL`",
  }),
  EVENTS_WEBHOOK_SECRET: z.string().optional().meta({
    description: "the same secret given inline",
    production: "refused inline (the environment is not secret): set `EVENTS_WEBHOOK_SECRET_FILE`",
  }),
  EVENTS_WEBHOOK_INTERVAL_MS: integer(100, 60_000).default(1000).meta({
    description:
      "how often each instance looks at the webhook outbox (a `call.incoming` wakes it at once)",
  }),
  EVENTS_WEBHOOK_TIMEOUT_MS: integer(100, 60_000)
    .default(5000)
    .meta({ description: "deadline of one delivery; past it the attempt fails as `timeout`" }),
  EVENTS_WEBHOOK_RETRY_BASE_SECONDS: integer(1, 3600).default(1).meta({
    description:
      "first wait after a failed delivery (any non-2xx, timeout, network), doubled per failure",
  }),
  EVENTS_WEBHOOK_RETRY_MAX_SECONDS: integer(1, 86_400)
    .default(300)
    .meta({ description: "longest wait between deliveries of one event" }),
  // A resident told of a ring minutes late has missed the visitor: minutes, not hours.
  EVENTS_WEBHOOK_OVERDUE_SECONDS: integer(10, 86_400).default(300).meta({
    description:
      "an undelivered event older than this counts in `propgate_events_webhook_overdue` (alert when > 0)",
  }),
  EVENTS_WEBHOOK_ORDER_HOLD_SECONDS: integer(10, 7 * 86_400)
    .default(3600)
    .meta({
      description:
        "each resident's events go out in order; a message failing longer than this stops holding back the later ones (it is retried on its own)",
    }),
});

const Secret = z
  .string()
  .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, "must be whsec_ followed by base64")
  .refine(
    (value) => {
      const bytes = Buffer.from(value.slice("whsec_".length), "base64").length;
      return bytes >= 24 && bytes <= 64;
    },
    { message: "must be whsec_ followed by the base64 of 24-64 bytes" },
  );

/**
 * The webhook relay's settings, or null when `EVENTS_WEBHOOK_URL` is unset. Production takes
 * https only and the secret only from a file; elsewhere http to loopback and an inline secret.
 */
export function loadEventsWebhookSettings(
  source: EnvSource,
  options: { production: boolean },
): EventsWebhookSettings | null {
  const env = parseEnv(eventsWebhookEnv, source);
  // An inline secret is refused in production even while the relay is off: it is still exposed.
  if (env.EVENTS_WEBHOOK_SECRET !== undefined) {
    if (env.EVENTS_WEBHOOK_SECRET_FILE !== undefined)
      throw new ConfigError("EVENTS_WEBHOOK_SECRET", "and EVENTS_WEBHOOK_SECRET_FILE are both set");
    if (options.production)
      throw new ConfigError(
        "EVENTS_WEBHOOK_SECRET",
        "is refused in production (the environment is not secret): put it in a file and set EVENTS_WEBHOOK_SECRET_FILE",
      );
  }
  const target = env.EVENTS_WEBHOOK_URL;
  if (!target) return null;
  if (target.username || target.password)
    throw new ConfigError("EVENTS_WEBHOOK_URL", "is invalid: must not carry credentials");
  if (target.protocol !== "https:") {
    if (target.protocol !== "http:")
      throw new ConfigError("EVENTS_WEBHOOK_URL", "is invalid: must be an https URL");
    if (options.production)
      throw new ConfigError("EVENTS_WEBHOOK_URL", "is invalid: must be https in production");
    if (!isLoopbackHost(target.hostname))
      throw new ConfigError(
        "EVENTS_WEBHOOK_URL",
        "is invalid: must be https (plain http only for loopback)",
      );
  }
  const variable =
    env.EVENTS_WEBHOOK_SECRET !== undefined
      ? "EVENTS_WEBHOOK_SECRET"
      : "EVENTS_WEBHOOK_SECRET_FILE";
  const text =
    env.EVENTS_WEBHOOK_SECRET ??
    (env.EVENTS_WEBHOOK_SECRET_FILE === undefined
      ? undefined
      : readConfigFile(variable, env.EVENTS_WEBHOOK_SECRET_FILE).trim());
  if (!text)
    throw new ConfigError(
      "EVENTS_WEBHOOK_SECRET_FILE",
      "is missing: EVENTS_WEBHOOK_URL needs the signing secret",
    );
  const secret = Secret.safeParse(text);
  if (!secret.success)
    throw new ConfigError(variable, `is invalid: ${secret.error.issues[0]?.message}`);
  return {
    url: target,
    secret: secret.data,
    intervalMs: env.EVENTS_WEBHOOK_INTERVAL_MS,
    timeoutMs: env.EVENTS_WEBHOOK_TIMEOUT_MS,
    overdueSeconds: env.EVENTS_WEBHOOK_OVERDUE_SECONDS,
    orderHoldSeconds: env.EVENTS_WEBHOOK_ORDER_HOLD_SECONDS,
    retry: {
      baseRetrySeconds: env.EVENTS_WEBHOOK_RETRY_BASE_SECONDS,
      maxRetrySeconds: env.EVENTS_WEBHOOK_RETRY_MAX_SECONDS,
    },
  };
}
