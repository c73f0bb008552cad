import type { Logger, Metrics } from "@propgate/observability";
import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
} from "cockatiel";
import type { z } from "zod";
import { OPERATIONS, type OperationName, PartnerErrorBody } from "./contract.ts";
import { PartnerProtocolError, PartnerRejectedError, PartnerUnavailableError } from "./errors.ts";
import type { TokenSource } from "./token-source.ts";
import type { PartnerFetch } from "./transport.ts";

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

interface Answer {
  status: number;
  text: string;
  headers: Headers;
  retryAfterMs: number | null;
}

/** An answer that counts as a partner failure for the circuit breaker. */
class CountedFailure extends Error {
  constructor(
    readonly answer: Answer | null,
    readonly reason: "timeout" | "network" | "status" | "protocol",
  ) {
    super(reason);
  }
}

const NO_HOOKS: CallHooks = { beforeAttempt: async () => {}, afterAttempt: async () => {} };

/** Seconds or an HTTP date, per RFC 9110 §10.2.3. */
export function parseRetryAfter(value: string | null, nowMs = Date.now()): number | null {
  if (!value) return null;
  if (/^\d{1,9}$/.test(value.trim())) return Number(value.trim()) * 1000;
  if (!/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(value.trim()))
    return null;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - nowMs);
}

async function readBody(response: Response, limit: number): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > limit) {
    await response.body?.cancel();
    throw new PartnerProtocolError(`partner response larger than ${limit} bytes`);
  }
  const buffer = await response.arrayBuffer();
  if (buffer.byteLength > limit)
    throw new PartnerProtocolError(`partner response larger than ${limit} bytes`);
  return new TextDecoder().decode(buffer);
}

export function createPartnerClient(options: PartnerClientOptions): PartnerClient {
  const maxAttempts = options.maxAttempts ?? 3;
  const baseDelay = options.retryBaseDelayMs ?? 100;
  const maxDelay = options.retryMaxDelayMs ?? 1000;
  const maxRetryAfter = options.maxRetryAfterMs ?? 2000;
  const maxBytes = options.maxResponseBytes ?? 1024 * 1024;
  const partner = options.name;
  const breaker = circuitBreaker(
    handleWhen((error) => error instanceof CountedFailure),
    {
      halfOpenAfter: options.breakerHalfOpenAfterMs ?? 10_000,
      breaker: new ConsecutiveBreaker(options.breakerThreshold ?? 5),
    },
  );
  breaker.onBreak(() => {
    options.metrics?.circuitOpen.set({ partner }, 1);
    options.logger?.error({ partner }, "partner circuit opened");
  });
  breaker.onReset(() => {
    options.metrics?.circuitOpen.set({ partner }, 0);
    options.logger?.info({ partner }, "partner circuit closed");
  });
  options.metrics?.circuitOpen.set({ partner }, 0);

  function count(operation: string, outcome: string) {
    options.metrics?.partnerRequests.inc({ partner, operation, outcome });
  }

  async function call<T>(request: CallRequest<T>): Promise<T> {
    const spec = OPERATIONS[request.operation];
    const hooks = request.hooks ?? NO_HOOKS;
    const [first, second] =
      typeof request.pathParam === "string" ? [request.pathParam] : request.pathParam;
    // Paths append to the base URL, so a base with a path prefix (`https://p.example/api`) keeps it.
    const url = new URL(`${options.baseUrl.href.replace(/\/+$/, "")}${spec.path(first, second)}`);
    for (const [key, value] of Object.entries(request.query ?? {}))
      url.searchParams.set(key, value);
    const retrySafe = spec.method !== "POST" || request.idempotencyKey !== undefined;
    // The deadline covers the partner's part: it starts when the first request is sent, so
    // time spent queueing for our own audit write does not eat into it.
    let deadline = Number.POSITIVE_INFINITY;
    let rejectedToken: string | undefined;
    let replayedAfter401 = false;

    for (let attempt = 1; ; attempt++) {
      request.signal?.throwIfAborted();
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        count(request.operation, "timeout");
        throw new PartnerUnavailableError(
          `partner ${partner} did not answer within ${options.timeoutMs} ms`,
        );
      }
      if (options.beforeSend) {
        try {
          await options.beforeSend({ operation: request.operation, attempt });
        } catch (error) {
          count(request.operation, "not_sent");
          throw error;
        }
      }
      let token = "";
      let started = 0;
      let answer: Answer;
      try {
        answer = await breaker.execute(async () => {
          token = await options.tokenSource.getToken([spec.scope], { rejected: rejectedToken });
          await hooks.beforeAttempt({ attempt });
          if (attempt === 1) deadline = Date.now() + options.timeoutMs;
          started = performance.now();
          const signals = [AbortSignal.timeout(deadline - Date.now())];
          if (request.signal) signals.push(request.signal);
          const headers: Record<string, string> = {
            authorization: `Bearer ${token}`,
            accept:
              request.sdp === undefined ? "application/json" : "application/sdp, application/json",
          };
          if (request.body !== undefined) headers["content-type"] = "application/json";
          if (request.sdp !== undefined) headers["content-type"] = "application/sdp";
          if (request.idempotencyKey) headers["idempotency-key"] = request.idempotencyKey;
          let response: Response;
          try {
            response = await options.fetch(url, {
              method: spec.method,
              headers,
              body:
                request.sdp ??
                (request.body === undefined ? undefined : JSON.stringify(request.body)),
              signal: AbortSignal.any(signals),
              redirect: "error",
            });
          } catch (error) {
            if (request.signal?.aborted) throw error;
            const timedOut =
              error instanceof Error &&
              (error.name === "TimeoutError" || error.name === "AbortError");
            throw new CountedFailure(null, timedOut ? "timeout" : "network");
          }
          let text: string;
          try {
            text = await readBody(response, maxBytes);
          } catch (error) {
            if (error instanceof PartnerProtocolError)
              throw new CountedFailure(
                {
                  status: response.status,
                  text: "",
                  headers: response.headers,
                  retryAfterMs: null,
                },
                "protocol",
              );
            throw new CountedFailure(null, "timeout");
          }
          const result: Answer = {
            status: response.status,
            text,
            headers: response.headers,
            retryAfterMs: parseRetryAfter(response.headers.get("retry-after")),
          };
          if (response.status >= 500) throw new CountedFailure(result, "status");
          return result;
        });
      } catch (error) {
        if (error instanceof BrokenCircuitError) {
          count(request.operation, "circuit_open");
          throw new PartnerUnavailableError(`partner ${partner} is unavailable (circuit open)`);
        }
        if (!(error instanceof CountedFailure)) {
          if (error instanceof PartnerUnavailableError)
            count(request.operation, "token_unavailable");
          throw error; // token source, hooks (consent, audit) or the caller's abort
        }
        const latencyMs = Math.round(performance.now() - started);
        if (!error.answer) {
          options.metrics?.partnerDuration.observe(
            { partner, operation: request.operation },
            latencyMs / 1000,
          );
          await afterAttempt(hooks, {
            attempt,
            outcome: "failure",
            httpStatus: null,
            errorCode: error.reason,
            latencyMs,
          });
          count(request.operation, error.reason);
          if (
            retrySafe &&
            attempt < maxAttempts &&
            (await pause(backoff(attempt), deadline, request.signal))
          )
            continue;
          throw new PartnerUnavailableError(
            error.reason === "timeout"
              ? `partner ${partner} did not answer within ${options.timeoutMs} ms`
              : `partner ${partner} could not be reached`,
          );
        }
        if (error.reason === "protocol") {
          await afterAttempt(hooks, {
            attempt,
            outcome: "failure",
            httpStatus: error.answer.status,
            errorCode: "protocol",
            latencyMs,
          });
          count(request.operation, "protocol_error");
          throw new PartnerProtocolError(`partner ${partner} sent an oversized response`);
        }
        answer = error.answer;
      }

      const latencyMs = Math.round(performance.now() - started);
      options.metrics?.partnerDuration.observe(
        { partner, operation: request.operation },
        latencyMs / 1000,
      );
      const { status } = answer;
      if (status >= 200 && status < 300) {
        const decoded = decodeAnswer(request, answer);
        if (!decoded.ok) {
          await afterAttempt(hooks, {
            attempt,
            outcome: "failure",
            httpStatus: status,
            errorCode: "protocol",
            latencyMs,
          });
          count(request.operation, "protocol_error");
          throw new PartnerProtocolError(
            `partner ${partner} answered ${request.operation} with ${decoded.problem}`,
          );
        }
        await afterAttempt(hooks, {
          attempt,
          outcome: "success",
          httpStatus: status,
          errorCode: null,
          latencyMs,
        });
        count(request.operation, "success");
        return decoded.data;
      }

      const partnerError = PartnerErrorBody.safeParse(parseJson(answer.text));
      const errorCode = partnerError.success
        ? partnerError.data.error.slice(0, 64)
        : `http_${status}`;
      await afterAttempt(hooks, {
        attempt,
        outcome: "failure",
        httpStatus: status,
        errorCode,
        latencyMs,
      });

      if (status === 401 && !replayedAfter401) {
        // One forced refresh and one replay: the partner refused the token before acting.
        replayedAfter401 = true;
        rejectedToken = token;
        count(request.operation, "unauthorized");
        continue;
      }
      if (status === 401) {
        count(request.operation, "unauthorized");
        options.logger?.error(
          { partner, operation: request.operation },
          "partner refused a fresh token",
        );
        throw new PartnerUnavailableError(`partner ${partner} refused our credentials`);
      }
      if (status === 429 || status >= 500) {
        count(request.operation, status === 429 ? "rate_limited" : "unavailable");
        const retryAfter = answer.retryAfterMs;
        const wait = retryAfter ?? backoff(attempt);
        if (
          retrySafe &&
          attempt < maxAttempts &&
          wait <= maxRetryAfter &&
          (await pause(wait, deadline, request.signal))
        ) {
          continue;
        }
        throw new PartnerUnavailableError(
          `partner ${partner} is ${status === 429 ? "rate limiting us" : `unavailable (HTTP ${status})`}`,
          retryAfter === null ? null : Math.ceil(retryAfter / 1000),
        );
      }
      count(request.operation, "rejected");
      throw new PartnerRejectedError(
        `partner ${partner} rejected ${request.operation} (HTTP ${status})`,
        status,
        partnerError.success ? errorCode : null,
      );
    }
  }

  function backoff(attempt: number): number {
    const ceiling = Math.min(maxDelay, baseDelay * 2 ** (attempt - 1));
    return Math.random() * ceiling;
  }

  async function afterAttempt(hooks: CallHooks, outcome: AttemptOutcome) {
    try {
      await hooks.afterAttempt(outcome);
    } catch (error) {
      // The partner has acted; the resident still gets the answer. The gap is logged loudly.
      options.logger?.error({ partner, err: error }, "recording a partner answer failed");
    }
  }

  return {
    name: partner,
    call,
    isAvailable: () => breaker.state !== CircuitState.Open,
  };
}

function decodeAnswer<T>(
  request: CallRequest<T>,
  answer: Answer,
): { ok: true; data: T } | { ok: false; problem: string } {
  if (request.decode) {
    try {
      return { ok: true, data: request.decode(answer) };
    } catch (error) {
      const reason = error instanceof Error ? error.message.slice(0, 200) : "an unusable answer";
      return { ok: false, problem: `an answer that breaks the contract: ${reason}` };
    }
  }
  const parsed = parseJson(answer.text);
  if (parsed === undefined) return { ok: false, problem: "a body that is not JSON" };
  const checked = request.response?.safeParse(parsed);
  return checked?.success
    ? { ok: true, data: checked.data }
    : { ok: false, problem: "a body that breaks the contract" };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Waits `ms` unless that would pass the deadline; says whether it waited. An abort ends the wait. */
async function pause(ms: number, deadline: number, signal?: AbortSignal): Promise<boolean> {
  if (Date.now() + ms >= deadline) return false;
  signal?.throwIfAborted();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener("abort", abort);
      resolve();
    }
    function abort() {
      clearTimeout(timer);
      reject(signal?.reason);
    }
    signal?.addEventListener("abort", abort, { once: true });
  });
  return true;
}
