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
export function apiSuccess(
  c: Context<SimEnv>,
  body: object,
  brokenBody: object,
  status: 200 | 201 = 200,
) {
  const mode = c.get("responseMode");
  if (mode === "non-json") {
    c.get("record").fault = "non-json";
    return c.html("<html>oops</html>", status);
  }
  if (mode === "bad-schema") {
    c.get("record").fault = "bad-schema";
    return c.json(brokenBody, status);
  }
  if (c.get("dialect") === "standard") {
    // A real partner's answer carries more than the contract names; readers must ignore it.
    const extra = { requestId: crypto.randomUUID(), _links: { self: { href: c.req.path } } };
    return c.json({ ...body, ...extra }, status, {
      "content-type": "application/json; charset=utf-8",
    });
  }
  return c.json(body, status);
}

/**
 * `204 No Content` for a successful delete. `non-json` turns it into 200 `text/html`; a 204 has
 * no body to break, so `bad-schema` leaves it alone.
 */
export function apiNoContent(c: Context<SimEnv>) {
  if (c.get("responseMode") === "non-json") {
    c.get("record").fault = "non-json";
    return c.html("<html>oops</html>", 200);
  }
  return c.body(null, 204);
}
