import type { Logger, Metrics, Tracing } from "@propgate/observability";
import type { z } from "zod";
import type { OperationName } from "./contract.ts";
import type { TokenSource } from "./token-source.ts";
import type { PartnerFetch } from "./transport.ts";

/** The partner client's public shapes: a call, its hooks, the client's options. */

export interface AttemptInfo {
  attempt: number;
}

export interface AttemptOutcome extends AttemptInfo {
  outcome: "success" | "failure";
  httpStatus: number | null;
  errorCode: string | null;
  latencyMs: number;
}

/**
 * Hooks around every request actually sent. `beforeAttempt` runs right before the request and
 * must succeed for it to be sent (the api writes the audit row and re-checks consent there);
 * when it throws, the call stops with that error and no request leaves.
 */
export interface CallHooks {
  beforeAttempt(info: AttemptInfo): Promise<void>;
  afterAttempt(outcome: AttemptOutcome): Promise<void>;
}

export interface PartnerClientOptions {
  name: string;
  baseUrl: URL;
  tokenSource: TokenSource;
  fetch: PartnerFetch;
  /** Deadline of one call, retries and waits included. */
  timeoutMs: number;
  maxAttempts?: number;
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
  /** Longest `Retry-After` we wait for; a longer one ends the call as unavailable. */
  maxRetryAfterMs?: number;
  /** Consecutive failures that open the breaker, and how long it stays open. */
  breakerThreshold?: number;
  breakerHalfOpenAfterMs?: number;
  /** Largest response body accepted. */
  maxResponseBytes?: number;
  /**
   * Runs before each request is sent (every attempt), ahead of the token and the hooks; when it
   * throws, the call ends with that error and nothing is sent (the api's outbound rate limit).
   */
  beforeSend?: (info: { operation: OperationName; attempt: number }) => Promise<void>;
  metrics?: Metrics;
  logger?: Logger;
  /** A span per attempt, its W3C `traceparent` on the request; off when absent. */
  tracing?: Tracing;
}

/** A partner's 2xx answer, for operations whose answer is not a JSON body. */
export interface RawAnswer {
  status: number;
  /** The URL the request went to (relative `Location`s resolve against it, RFC 9110 §10.2.2). */
  url: URL;
  text: string;
  headers: Headers;
}

export interface CallRequest<T> {
  operation: OperationName;
  /** The id (or the two ids) for the operation's path template, in its order. */
  pathParam: string | readonly [string, string];
  /** Query parameters, e.g. the subject a list is for. */
  query?: Record<string, string>;
  /** A JSON body, or `sdp` for an `application/sdp` body. */
  body?: unknown;
  sdp?: string;
  /** Makes a POST safe to retry; the partner answers a replay with the stored result. */
  idempotencyKey?: string;
  /**
   * The answer's JSON schema, or `decode` for anything else: throwing `ContractViolation` (or
   * anything) refuses the answer as a protocol error.
   */
  response?: z.ZodType<T>;
  decode?: (answer: RawAnswer) => T;
  /**
   * A path (and query) on the partner's origin to call instead of the operation's own path: a
   * URL the partner gave us (a WHEP session's `Location`). It never leaves the partner's origin.
   */
  url?: string;
  hooks?: CallHooks;
  signal?: AbortSignal;
  /**
   * Send even while the breaker is open (and leave its count alone): for calls that stop
   * processing from a queue with its own back-off — ending a video session after a revocation
   * must go out as soon as the partner is back, not when the breaker next lets a call through.
   */
  bypassBreaker?: boolean;
}

export interface PartnerClient {
  readonly name: string;
  call<T>(request: CallRequest<T>): Promise<T>;
  /** Whether the breaker currently lets calls through. */
  isAvailable(): boolean;
}
