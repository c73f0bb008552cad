import { writeSync } from "node:fs";
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

/** A log destination that holds lines briefly; `flush` writes them out now. */
export interface FlushableDestination extends LogDestination {
  flush(): void;
}

/** Beyond this much held text a line is written at once, whatever the turn. */
const MAX_HELD_BYTES = 1024 * 1024;

/**
 * stdout with one write per event-loop turn instead of one per line: the lines of the turn are
 * joined and written together when it ends (`setImmediate`). Pino's asynchronous destination
 * (sonic-boom) was measured to cost Bun more CPU than a blocking write per line; this costs
 * about half (docs/operations.md, Benchmarks). A line waits at most for the end of its turn;
 * `flush` (at a stop) and the process's `exit` write what is held, so only SIGKILL can lose the
 * lines of one turn. stdout gone (EPIPE) drops lines, as pino does; a full pipe is waited out.
 */
export function stdoutByTurn(fd = 1): FlushableDestination {
  let held: string[] = [];
  let bytes = 0;
  let scheduled = false;
  let broken = false;
  const flush = () => {
    scheduled = false;
    if (held.length === 0) return;
    const out = Buffer.from(held.join(""));
    held = [];
    bytes = 0;
    let offset = 0;
    while (offset < out.length && !broken) {
      try {
        offset += writeSync(fd, out, offset);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EAGAIN") continue; // a full pipe
        broken = true; // EPIPE and the like: nowhere to write
      }
    }
  };
  process.once("exit", flush);
  return {
    write(line: string) {
      held.push(line);
      bytes += line.length;
      if (bytes >= MAX_HELD_BYTES) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
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
