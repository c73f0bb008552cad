import type { Logger, Metrics } from "@propgate/observability";
import { CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen } from "cockatiel";
import type { z } from "zod";
import {
  type AttemptDeps,
  isCountedFailure,
  type RequestOutcome,
  type SentAttempt,
  sendAttempt,
} from "./attempt.ts";
import type { OperationName } from "./contract.ts";
import { buildRequest } from "./request.ts";
import { type AttemptRecord, decide, pause, type RetryPolicy } from "./retry-policy.ts";
import type { TokenSource } from "./token-source.ts";
import type { PartnerFetch } from "./transport.ts";

export { parseRetryAfter } from "./retry-policy.ts";

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
}

/** A partner's 2xx answer, for operations whose answer is not a JSON body. */
export interface RawAnswer {
  status: number;
  text: string;
  headers: Headers;
}

export interface CallRequest<T> {
  operation: OperationName;
  /** The id (or the two ids) the operation's path names. */
  pathParam: string | readonly [string, string];
  /** Query parameters, e.g. the subject a list is for. */
  query?: Record<string, string>;
  /** A JSON body, or `sdp` for an `application/sdp` body. */
  body?: unknown;
  sdp?: string;
  /** Makes a POST safe to retry; the partner answers a replay with the stored result. */
  idempotencyKey?: string;
  /** The answer's JSON schema, or `decode` for anything else (throwing means a protocol error). */
  response?: z.ZodType<T>;
  decode?: (answer: RawAnswer) => T;
  hooks?: CallHooks;
  signal?: AbortSignal;
}

export interface PartnerClient {
  readonly name: string;
  call<T>(request: CallRequest<T>): Promise<T>;
  /** Whether the breaker currently lets calls through. */
  isAvailable(): boolean;
}

const NO_HOOKS: CallHooks = { beforeAttempt: async () => {}, afterAttempt: async () => {} };

export function createPartnerClient(options: PartnerClientOptions): PartnerClient {
  const partner = options.name;
  const policy: RetryPolicy = {
    partner,
    timeoutMs: options.timeoutMs,
    maxAttempts: options.maxAttempts ?? 3,
    retryBaseDelayMs: options.retryBaseDelayMs ?? 100,
    retryMaxDelayMs: options.retryMaxDelayMs ?? 1000,
    maxRetryAfterMs: options.maxRetryAfterMs ?? 2000,
  };
  const breaker = circuitBreaker(handleWhen(isCountedFailure), {
    halfOpenAfter: options.breakerHalfOpenAfterMs ?? 10_000,
    breaker: new ConsecutiveBreaker(options.breakerThreshold ?? 5),
  });
  breaker.onBreak(() => {
    options.metrics?.circuitOpen.set({ partner }, 1);
    options.logger?.error({ partner }, "partner circuit opened");
  });
  breaker.onReset(() => {
    options.metrics?.circuitOpen.set({ partner }, 0);
    options.logger?.info({ partner }, "partner circuit closed");
  });
  options.metrics?.circuitOpen.set({ partner }, 0);

  function count(operation: OperationName, outcome: RequestOutcome) {
    options.metrics?.partnerRequests.inc({ partner, operation, outcome });
  }

  const attemptDeps: AttemptDeps = {
    partner,
    tokenSource: options.tokenSource,
    fetch: options.fetch,
    timeoutMs: options.timeoutMs,
    maxResponseBytes: options.maxResponseBytes ?? 1024 * 1024,
    breaker,
    beforeSend: options.beforeSend,
    count,
  };

  async function call<T>(request: CallRequest<T>): Promise<T> {
    const { operation, signal } = request;
    const prepared = buildRequest(options.baseUrl, request);
    const hooks = request.hooks ?? NO_HOOKS;
    let deadline = Number.POSITIVE_INFINITY;
    let rejectedToken: string | undefined;
    let replayedAfter401 = false;

    for (let attempt = 1; ; attempt++) {
      const sent = await sendAttempt(attemptDeps, {
        operation,
        prepared,
        attempt,
        hooks,
        signal,
        deadline,
        rejectedToken,
      });
      deadline = sent.deadline;
      const verdict = decide(policy, request, sent, {
        attempt,
        retrySafe: prepared.retrySafe,
        replayedAfter401,
      });
      await record(operation, hooks, attempt, sent, verdict.record);

      switch (verdict.next) {
        case "return":
          return verdict.value;
        case "fail":
          if (verdict.alert) options.logger?.error({ partner, operation }, verdict.alert);
          throw verdict.error;
        case "replay":
          replayedAfter401 = true;
          rejectedToken = verdict.rejectedToken;
          break;
        case "retry":
          if (!(await pause(verdict.waitMs, deadline, signal))) throw verdict.otherwise;
          break;
      }
    }
  }

  /** The one place an answer is timed, audited and counted. */
  async function record(
    operation: OperationName,
    hooks: CallHooks,
    attempt: number,
    sent: SentAttempt,
    { metric, ...row }: AttemptRecord,
  ) {
    // Oversized answers are counted but not timed.
    if (sent.kind !== "oversize")
      options.metrics?.partnerDuration.observe({ partner, operation }, sent.latencyMs / 1000);
    try {
      await hooks.afterAttempt({ attempt, ...row, latencyMs: sent.latencyMs });
    } catch (error) {
      // The partner has acted; the resident still gets the answer. The gap is logged loudly.
      options.logger?.error({ partner, err: error }, "recording a partner answer failed");
    }
    count(operation, metric);
  }

  return {
    name: partner,
    call,
    isAvailable: () => breaker.state !== CircuitState.Open,
  };
}
