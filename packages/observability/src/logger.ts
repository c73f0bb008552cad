import pino from "pino";
import { scrubText, scrubValue } from "./scrub.ts";

export type Logger = pino.Logger;
export type LogDestination = pino.DestinationStream;

export interface LoggerOptions {
  name: string;
  level?: pino.LevelWithSilent;
  /** Where lines go; stdout by default. Tests pass a stream to read every line written. */
  destination?: LogDestination;
  base?: Record<string, unknown>;
}

/** Errors are logged by allow-list: name, code and message, never a cause chain or request. */
function serializeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { type: typeof err };
  const code = (err as { code?: unknown }).code;
  return {
    type: err.name,
    ...(typeof code === "string" ? { code } : {}),
    message: scrubText(err.message.slice(0, 500)),
  };
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? "info",
      base: { app: options.name, ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: { err: serializeError, error: serializeError },
      formatters: {
        level: (label) => ({ level: label }),
        log: (record) => scrubValue(record) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          method.apply(
            this,
            args.map((arg) => (typeof arg === "string" ? scrubText(arg) : arg)) as Parameters<
              typeof method
            >,
          );
        },
      },
    },
    options.destination,
  );
}
