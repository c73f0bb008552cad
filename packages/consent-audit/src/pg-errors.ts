/** SQLSTATE of a database error, looking through drizzle's `DrizzleQueryError` wrapper. */
export function errorCode(err: unknown): string | undefined {
  for (let current = err, depth = 0; current instanceof Object && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
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
