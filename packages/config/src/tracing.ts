import { z } from "zod";
import { ConfigError, type EnvSource, parseEnv } from "./parse.ts";
import { isLoopbackHost } from "./urls.ts";

/** `OTEL_TRACES_SAMPLER`'s values, as the OpenTelemetry SDK environment specification names them. */
const SAMPLERS = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
] as const;

const otlpUrl = z.url({ error: "must be an absolute http(s) URL" }).transform((value, ctx) => {
  const target = new URL(value);
  if (target.protocol !== "http:" && target.protocol !== "https:") {
    ctx.addIssue({ code: "custom", message: "must be an absolute http(s) URL" });
    return z.NEVER;
  }
  if (target.username || target.password) {
    ctx.addIssue({ code: "custom", message: "must not carry credentials" });
    return z.NEVER;
  }
  return target;
});

/** The standard `OTEL_*` variables a program traces by (docs/operations.md, "Traces"). */
export const tracingEnv = z.object({
  OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl.optional().meta({
    description:
      "OTLP/HTTP collector base URL: spans go to `<it>/v1/traces` (JSON). Traces hold opaque ids and codes only, never personal data",
    unset: "– (tracing off: no spans, no cost)",
    production: "https, or plain http to a loopback collector (a sidecar)",
  }),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: otlpUrl.optional().meta({
    description: "the full traces URL, used as given; wins over `OTEL_EXPORTER_OTLP_ENDPOINT`",
    unset: "– (from `OTEL_EXPORTER_OTLP_ENDPOINT`)",
  }),
  OTEL_SERVICE_NAME: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, "must be 1-64 of [A-Za-z0-9._-]")
    .optional()
    .meta({
      description: "`service.name` of the spans",
      unset: "the program's: `propgate-api`, `propgate-health-probe`",
    }),
  OTEL_TRACES_SAMPLER: z
    .enum(SAMPLERS, { error: `must be one of ${SAMPLERS.join(", ")}` })
    .default("parentbased_always_on")
    .meta({
      description:
        "which traces are kept: `always_on`, `always_off`, `traceidratio`, or `parentbased_*` (follow the caller's `traceparent` flag, the root by the rest of the name)",
    }),
  OTEL_TRACES_SAMPLER_ARG: z.coerce
    .number({ error: "must be a number 0-1" })
    .min(0, { error: "must be a number 0-1" })
    .max(1, { error: "must be a number 0-1" })
    .default(1)
    .meta({ description: "the ratio of the `*traceidratio` samplers, 0–1" }),
  OTEL_RESOURCE_ATTRIBUTES: z.string().optional().meta({
    description:
      "`key=value,…` (values percent-encoded) added to every span's resource, e.g. `deployment.environment.name=prod`",
    unset: "–",
  }),
});

/** What `createTracing` (`@propgate/observability`) takes; null when tracing is off. */
export interface TracingEnvSettings {
  endpoint: URL;
  serviceName: string;
  sampler: (typeof SAMPLERS)[number];
  samplerRatio: number;
  resourceAttributes: Record<string, string>;
}

/** `k=v,k2=v2` as the OpenTelemetry resource specification writes it (values percent-encoded). */
function resourceAttributes(text: string | undefined): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const pair of (text ?? "").split(",")) {
    if (pair.trim() === "") continue;
    const at = pair.indexOf("=");
    const key = pair.slice(0, at).trim();
    if (at <= 0 || !/^[A-Za-z0-9._-]{1,128}$/.test(key))
      throw new ConfigError("OTEL_RESOURCE_ATTRIBUTES", "is invalid: must be key=value,…");
    try {
      attributes[key] = decodeURIComponent(pair.slice(at + 1).trim()).slice(0, 256);
    } catch {
      throw new ConfigError("OTEL_RESOURCE_ATTRIBUTES", "is invalid: a value is badly encoded");
    }
  }
  return attributes;
}

/**
 * A program's trace settings from the `OTEL_*` variables, or null (tracing off) without an
 * endpoint. In production the collector is reached over https, or plain http on loopback only.
 */
export function tracingSettings(
  source: EnvSource,
  options: { serviceName: string; production: boolean },
): TracingEnvSettings | null {
  const env = parseEnv(tracingEnv, source);
  const endpoint =
    env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
    (env.OTEL_EXPORTER_OTLP_ENDPOINT
      ? new URL(`${env.OTEL_EXPORTER_OTLP_ENDPOINT.href.replace(/\/+$/, "")}/v1/traces`)
      : null);
  if (!endpoint) return null;
  if (options.production && endpoint.protocol === "http:" && !isLoopbackHost(endpoint.hostname)) {
    const variable = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
      ? "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
      : "OTEL_EXPORTER_OTLP_ENDPOINT";
    throw new ConfigError(variable, "is invalid: must be https in production (or a loopback host)");
  }
  return {
    endpoint,
    serviceName: env.OTEL_SERVICE_NAME ?? options.serviceName,
    sampler: env.OTEL_TRACES_SAMPLER,
    samplerRatio: env.OTEL_TRACES_SAMPLER_ARG,
    resourceAttributes: resourceAttributes(env.OTEL_RESOURCE_ATTRIBUTES),
  };
}
