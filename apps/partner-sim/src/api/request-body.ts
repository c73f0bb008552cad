import type { Context } from "hono";
import type { SimEnv } from "../context.ts";
import { apiError } from "./answers.ts";

export type LimitedText =
  | { ok: true; text: string; bytes: number }
  | { ok: false; reason: "too_large" | "not_utf8"; bytes: number };

/** Reads at most `limit` bytes of the body; stops reading as soon as it is over. */
export async function readLimitedText(request: Request, limit: number): Promise<LimitedText> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > limit) return { ok: false, reason: "too_large", bytes: declared };
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  const reader = request.body?.getReader();
  while (reader) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    if (bytes > limit) {
      await reader.cancel();
      return { ok: false, reason: "too_large", bytes };
    }
    chunks.push(value);
  }
  try {
    return {
      ok: true,
      text: new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks)),
      bytes,
    };
  } catch {
    return { ok: false, reason: "not_utf8", bytes };
  }
}

export type JsonBody = { ok: true; value: unknown } | { ok: false; response: Response };

/** Largest JSON body of an ordinary API call. */
export const MAX_JSON_BODY_BYTES = 64 * 1024;

/** An `application/json` body of at most `limit` bytes: 415, 413 or 400 otherwise. */
export async function readJsonBody(
  c: Context<SimEnv>,
  limit = MAX_JSON_BODY_BYTES,
): Promise<JsonBody> {
  const type = (c.req.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json") {
    return {
      ok: false,
      response: apiError(c, 415, "unsupported_media_type", "body must be application/json"),
    };
  }
  const body = await readLimitedText(c.req.raw, limit);
  if (!body.ok) {
    return {
      ok: false,
      response:
        body.reason === "too_large"
          ? apiError(c, 413, "payload_too_large", `the body may be at most ${limit} bytes`)
          : apiError(c, 400, "invalid_request", "body is not UTF-8"),
    };
  }
  try {
    return { ok: true, value: JSON.parse(body.text) };
  } catch {
    return { ok: false, response: apiError(c, 400, "invalid_request", "body is not valid JSON") };
  }
}
