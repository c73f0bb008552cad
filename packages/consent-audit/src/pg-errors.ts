/** SQLSTATE of a database error, looking through drizzle's `DrizzleQueryError` wrapper. */
export function errorCode(err: unknown): string | undefined {
  for (let current = err, depth = 0; current instanceof Object && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** postgres.js's codes for a connection it could not make or lost. */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EPIPE",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
]);

/**
 * The database cannot be reached or is going away, for now: no connection (refused, reset,
 * timed out, closed), SQLSTATE class 08 (connection exception), 57P01–57P03 (shutting down,
 * crashed, starting up) or 53300 (too many connections). Anything else — a constraint, a bad
 * query — is not this.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const code = errorCode(err);
  if (code === undefined) return false;
  return (
    CONNECTION_CODES.has(code) ||
    code.startsWith("08") ||
    code === "57P01" ||
    code === "57P02" ||
    code === "57P03" ||
    code === "53300"
  );
}

/** A statement cancelled (SQLSTATE 57014): past its `statement_timeout`, or by an operator. */
export function isStatementTimeout(err: unknown): boolean {
  return errorCode(err) === "57014";
}

/** The innermost error message (drizzle's wrapper message repeats the whole query). */
export function rootMessage(err: unknown): string {
  let current = err;
  for (let depth = 0; depth < 5; depth++) {
    const cause = (current as { cause?: unknown } | null)?.cause;
    if (!(cause instanceof Error)) break;
    current = cause;
  }
  return current instanceof Error ? current.message : String(current);
}

/**
 * What stopped a program's startup, in one line: the innermost error's message (a driver's
 * `connect ECONNREFUSED 127.0.0.1:5432`) with its code, anything after a newline (a query, its
 * parameters) and a URL's credentials cut off.
 */
export function startupFailure(error: unknown): string {
  const message =
    rootMessage(error)
      .split("\n")[0]
      ?.replace(/\/\/[^/@\s]*@/g, "//")
      .slice(0, 300) ?? "";
  const code = errorCode(error);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}
