import { TRPCClientError } from "@trpc/client";
import type { inferRouterError } from "@trpc/server";
import type { AppRouter } from "./app-router.ts";
import { type HeaderSource, parseRetryAfter } from "./headers.ts";

/** The api's stable reasons (`ERROR_CODES` of `@propgate/domain`), as its error shape types them. */
type ErrorCode = inferRouterError<AppRouter>["data"]["cause"]["code"];

/**
 * The refusals of a session gateway in front of the api (the admin app: no session, a missing
 * CSRF token, the api out of reach, …), sent as the one non-tRPC error body
 * `{ error: { code, message, requestId } }`.
 */
export type GatewayErrorCode =
  | "SESSION_REQUIRED"
  | "CSRF_REJECTED"
  | "API_UNREACHABLE"
  | "PAYLOAD_TOO_LARGE"
  | "METHOD_NOT_ALLOWED";

/**
 * What went wrong, as the api's `error.data.cause.code` says (`ERROR_CODES` of
 * `@propgate/domain`) or a gateway's own error body (`GatewayErrorCode`, or an api code such as
 * `NOT_FOUND`), or `NETWORK_ERROR` when no answer of either came back: no connection, a timeout,
 * an abort, or an answer that is not such JSON (a proxy's error page).
 */
export type PropgateErrorCode = ErrorCode | GatewayErrorCode | "NETWORK_ERROR";

/** Every code the api sends; a `Record` so the compiler keeps it equal to `ErrorCode`. */
const API_CODES: Record<ErrorCode, true> = {
  UNAUTHORIZED: true,
  FORBIDDEN: true,
  FORBIDDEN_DEVICE: true,
  FORBIDDEN_SITE: true,
  CONSENT_REQUIRED: true,
  INVALID_INPUT: true,
  RATE_LIMITED: true,
  BLOCKED: true,
  NOT_FOUND: true,
  METHOD_NOT_ALLOWED: true,
  PARTNER_UNAVAILABLE: true,
  PARTNER_REJECTED: true,
  PARTNER_PROTOCOL_ERROR: true,
  UNAVAILABLE: true,
  INTERNAL: true,
};

const GATEWAY_CODES: Record<GatewayErrorCode, true> = {
  SESSION_REQUIRED: true,
  CSRF_REJECTED: true,
  API_UNREACHABLE: true,
  PAYLOAD_TOO_LARGE: true,
  METHOD_NOT_ALLOWED: true,
};

function isApiCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(API_CODES, code);
}

function isGatewayCode(code: unknown): code is ErrorCode | GatewayErrorCode {
  return isApiCode(code) || (typeof code === "string" && Object.hasOwn(GATEWAY_CODES, code));
}

/** The `meta` tRPC's httpLink puts on an error: the answer and its JSON, when one came. */
interface ErrorMeta {
  response?: { status: number; headers: HeaderSource };
  responseJSON?: unknown;
}

/** One refused input, as the api's `error.data.issues` names it (`INVALID_INPUT`). */
export interface InputIssue {
  /** The input's path, dot-separated (`reason`, `filter.userId`); `""` for the whole input. */
  path: string;
  message: string;
}

/** A JSON answer that is not tRPC's: `{ error: { code, message, requestId } }` of a gateway. */
function gatewayBody(
  meta: ErrorMeta | undefined,
): { code: string; message: string | null; requestId: string | null } | null {
  const body = meta?.responseJSON as { error?: Record<string, unknown> } | null | undefined;
  const error = typeof body === "object" && body !== null ? body.error : undefined;
  if (typeof error !== "object" || error === null || typeof error.code !== "string") return null;
  return {
    code: error.code,
    message: typeof error.message === "string" ? error.message : null,
    requestId: typeof error.requestId === "string" ? error.requestId : null,
  };
}

export function responseOf(error: TRPCClientError<AppRouter>): ErrorMeta["response"] | null {
  const meta = error.meta as ErrorMeta | undefined;
  return meta?.response ?? null;
}

/**
 * A failed call. A `TRPCClientError` too (tRPC passes it through unchanged), with the api's
 * stable reason in `code` and what an app needs to show it.
 */
export class PropgateError extends TRPCClientError<AppRouter> {
  readonly code: PropgateErrorCode;
  /** When to try again (the api's `cause.retryAfterSeconds`, else `Retry-After`), if known. */
  readonly retryAfterSeconds: number | null;
  /** The api's request id (`error.data.requestId`, the `x-request-id` header): quote it to support. */
  readonly requestId: string | null;
  /** The HTTP status of the answer; null when none came. */
  readonly httpStatus: number | null;
  /** The procedure called (`intercom.openDoor`). */
  readonly procedure: string;
  /** Which inputs were refused and why (the api's zod issues of an `INVALID_INPUT`); else empty. */
  readonly issues: InputIssue[];

  constructor(error: TRPCClientError<AppRouter>, procedure: string) {
    const data = error.data;
    const gateway = data ? null : gatewayBody(error.meta as ErrorMeta | undefined);
    super(gateway?.message ?? error.message, {
      result: error.shape ? { error: error.shape } : undefined,
      cause: error,
      meta: error.meta,
    });
    // TRPCClientError's constructor resets the prototype to its own; put ours back.
    Object.setPrototypeOf(this, new.target.prototype);
    this.name = "PropgateError";
    const response = responseOf(error);
    const cause = data?.cause;
    if (isApiCode(cause?.code)) this.code = cause.code;
    else if (gateway) this.code = isGatewayCode(gateway.code) ? gateway.code : "INTERNAL";
    else this.code = data ? "INTERNAL" : "NETWORK_ERROR";
    this.retryAfterSeconds =
      cause?.retryAfterSeconds ?? (response ? parseRetryAfter(response.headers) : null);
    this.requestId =
      data?.requestId ?? gateway?.requestId ?? response?.headers.get("x-request-id") ?? null;
    this.httpStatus = data?.httpStatus ?? response?.status ?? null;
    this.procedure = procedure;
    this.issues = (data?.issues ?? []).map(({ path, message }) => ({ path, message }));
  }
}
