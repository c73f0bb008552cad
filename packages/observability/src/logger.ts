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

const text = (value: unknown, max = 63): string | undefined =>
  typeof value === "string" && /^[\w.$ -]+$/.test(value) ? value.slice(0, max) : undefined;

/** `insert audit_events`: what a statement does and to which table, nothing of its values. */
function statementName(query: string): string | undefined {
  const match =
    /\b(insert\s+into|update|delete\s+from|select\b[\s\S]*?\bfrom)\s+"?([A-Za-z_][\w.]*)"?/i.exec(
      query,
    );
  if (!match?.[1] || !match[2]) return undefined;
  return `${match[1].split(/\s+/)[0]?.toLowerCase()} ${match[2]}`;
}

/**
 * A database error (drizzle's `DrizzleQueryError`, whose message is the statement followed by
 * `params: …` — user ids, subjects, addresses — or the driver's own error, whose message may
 * quote a value): logged by its PostgreSQL code, the table, constraint and column it names, and
 * the statement's kind and table. Never a message, never a parameter.
 */
function serializeDatabaseError(err: Error): Record<string, unknown> | null {
  const query = (err as { query?: unknown }).query;
  const wrapped = err.name === "DrizzleQueryError" || err.message.startsWith("Failed query:");
  const own = err as Error & Record<string, unknown>;
  const driver = wrapped ? (own.cause as Record<string, unknown> | undefined) : own;
  const isDriver =
    driver !== undefined &&
    (driver.name === "PostgresError" ||
      driver.constructor?.name === "DatabaseError" ||
      (typeof driver.severity === "string" && typeof driver.code === "string"));
  if (!wrapped && !isDriver) return null;
  const fields: Record<string, unknown> = { type: err.name, database: true };
  const code = text(driver?.code, 5);
  if (code && /^[0-9A-Z]{5}$/.test(code)) fields.code = code;
  const table = text(driver?.table_name ?? driver?.table);
  if (table) fields.table = table;
  const constraint = text(driver?.constraint_name ?? driver?.constraint);
  if (constraint) fields.constraint = constraint;
  const column = text(driver?.column_name ?? driver?.column);
  if (column) fields.column = column;
  const statement = statementName(
    typeof query === "string" ? query : err.message.replace(/\nparams:[\s\S]*$/, ""),
  );
  if (wrapped && statement) fields.statement = statement;
  return fields;
}

/** Errors are logged by allow-list: name, code and message, never a cause chain or request. */
function serializeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { type: typeof err };
  const database = serializeDatabaseError(err);
  if (database) return database;
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
