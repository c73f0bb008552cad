import type { OpenApiHeader } from "./document.ts";

/** A header the document explains in words: a string value. */
export function textHeader(description: string): OpenApiHeader {
  return { description, schema: { type: "string" } };
}

/** `Retry-After` as Propgate sends it: whole seconds (RFC 9110 §10.2.3), never a date. */
export function retryAfterSeconds(description: string, required?: true): OpenApiHeader {
  return {
    description,
    ...(required ? { required } : {}),
    schema: { type: "string", pattern: "^[0-9]+$" },
  };
}

/**
 * The IETF RateLimit fields Propgate's limits send (draft-ietf-httpapi-ratelimit-headers), each
 * described for the document's readers.
 */
export function rateLimitHeaders(described: {
  limit: string;
  policy: string;
}): Record<"RateLimit" | "RateLimit-Policy", OpenApiHeader> {
  return {
    RateLimit: textHeader(described.limit),
    "RateLimit-Policy": textHeader(described.policy),
  };
}
