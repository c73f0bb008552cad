import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { SimEnv } from "../context.ts";

/** Every partner API error has the contract's shape `{ error, message }`. */
export function apiError(
  c: Context<SimEnv>,
  status: ContentfulStatusCode,
  error: string,
  message: string,
  headers: Record<string, string> = {},
) {
  return c.json({ error, message }, status, headers);
}

/**
 * A successful answer, unless a response-mode fault garbles it: the partner did the work, only
 * its answer is broken (HTML instead of JSON, or JSON that breaks the contract).
 */
export function apiSuccess(c: Context<SimEnv>, body: object, brokenBody: object) {
  const mode = c.get("responseMode");
  if (mode === "non-json") {
    c.get("record").fault = "non-json";
    return c.html("<html>oops</html>", 200);
  }
  if (mode === "bad-schema") {
    c.get("record").fault = "bad-schema";
    return c.json(brokenBody, 200);
  }
  return c.json(body, 200);
}
