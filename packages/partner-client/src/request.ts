import type { CallRequest } from "./call.ts";
import { OPERATIONS, type PartnerScope } from "./contract.ts";
import { expandPath } from "./path-template.ts";

/** What one call sends, ready for each attempt. */
export interface PreparedRequest {
  url: URL;
  method: "GET" | "POST" | "DELETE";
  scope: PartnerScope;
  /** A POST is only replayed when an idempotency key makes the partner answer it once. */
  retrySafe: boolean;
  /**
   * The fetch options of one attempt, under that attempt's token and signal, with its trace
   * headers (`traceparent`, `tracestate`) when traced.
   */
  init(token: string, signal: AbortSignal, trace?: Record<string, string>): RequestInit;
}

export function buildRequest<T>(baseUrl: URL, request: CallRequest<T>): PreparedRequest {
  const spec = OPERATIONS[request.operation];
  const ids = typeof request.pathParam === "string" ? [request.pathParam] : request.pathParam;
  // Paths append to the base URL, so a base with a path prefix (`https://p.example/api`) keeps it.
  // A URL the partner gave us is taken as a path on its origin, and must stay there.
  const url =
    request.url === undefined
      ? new URL(`${baseUrl.href.replace(/\/+$/, "")}${expandPath(spec.path, ids)}`)
      : new URL(request.url, baseUrl.origin);
  if (url.origin !== baseUrl.origin) throw new Error("a partner URL off the partner's origin");
  for (const [key, value] of Object.entries(request.query ?? {})) url.searchParams.set(key, value);

  const headers: Record<string, string> = {
    accept: request.sdp === undefined ? "application/json" : "application/sdp, application/json",
  };
  if (request.body !== undefined) headers["content-type"] = "application/json";
  if (request.sdp !== undefined) headers["content-type"] = "application/sdp";
  if (request.idempotencyKey) headers["idempotency-key"] = request.idempotencyKey;

  return {
    url,
    method: spec.method,
    scope: spec.scope,
    retrySafe: spec.method !== "POST" || request.idempotencyKey !== undefined,
    init: (token, signal, trace) => ({
      method: spec.method,
      headers: { authorization: `Bearer ${token}`, ...headers, ...trace },
      body: request.sdp ?? (request.body === undefined ? undefined : JSON.stringify(request.body)),
      signal,
      redirect: "error",
    }),
  };
}
