import { z } from "zod";

/** Field schemas for env values. Messages never echo the value, which may be secret. */

export const propgateEnv = z.enum(["production", "development", "test"], {
  error: "must be production, development or test",
});
export type PropgateEnv = z.infer<typeof propgateEnv>;

export const port = z.coerce
  .number({ error: "must be a port number" })
  .int({ error: "must be an integer port 0-65535" })
  .min(0, { error: "must be an integer port 0-65535" })
  .max(65535, { error: "must be an integer port 0-65535" });

export const host = z
  .string()
  .regex(/^[A-Za-z0-9.:[\]-]{1,253}$/, { error: "must be a host name or IP address" });

export const integer = (min: number, max: number) =>
  z.coerce
    .number({ error: `must be an integer ${min}-${max}` })
    .int({ error: `must be an integer ${min}-${max}` })
    .min(min, { error: `must be an integer ${min}-${max}` })
    .max(max, { error: `must be an integer ${min}-${max}` });

/** `host:port`, or `[v6]:port`: where a listener binds. */
export const listenAddress = z.string().transform((value, ctx) => {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]{1,253})):([0-9]{1,5})$/.exec(value);
  const hostname = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (!hostname || !Number.isInteger(port) || port > 65535) {
    ctx.addIssue({ code: "custom", message: "must be host:port (IPv6 as [addr]:port)" });
    return z.NEVER;
  }
  return { hostname, port };
});

export const url = z.url({ error: "must be an absolute URL" }).transform((value) => new URL(value));

export const booleanFlag = z
  .enum(["true", "false", "1", "0"], { error: "must be true or false" })
  .transform((value) => value === "true" || value === "1");

export const logLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], {
  error: "must be one of fatal, error, warn, info, debug, trace, silent",
});

/** A key of at least 32 bytes, given as hex (64+ chars) or base64/base64url. */
export const hexOrBase64Key = z.string().transform((value, ctx) => {
  const trimmed = value.trim();
  const bytes =
    /^[0-9a-fA-F]+$/.test(trimmed) && trimmed.length % 2 === 0
      ? Buffer.from(trimmed, "hex")
      : /^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)
        ? Buffer.from(trimmed, "base64")
        : null;
  if (!bytes || bytes.length < 32) {
    ctx.addIssue({ code: "custom", message: "must be a key of at least 32 bytes (hex or base64)" });
    return z.NEVER;
  }
  return new Uint8Array(bytes);
});
