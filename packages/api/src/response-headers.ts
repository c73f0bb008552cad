import type { Context } from "hono";

/**
 * Adds headers to the response a handler has returned. Hono's `c.header` copies the whole
 * Response at every call once it is final; a Response built here has mutable headers, so they
 * go on in place, and only one passed through with immutable headers is copied (by Hono, once).
 */
export function addResponseHeaders(
  c: Context,
  headers: Iterable<readonly [string, string]>,
  options: { append?: boolean } = {},
): void {
  for (const [name, value] of headers) {
    try {
      if (options.append) c.res.headers.append(name, value);
      else c.res.headers.set(name, value);
    } catch {
      c.header(name, value, options);
    }
  }
}
