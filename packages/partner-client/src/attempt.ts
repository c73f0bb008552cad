import type { Tracing } from "@propgate/observability";
import { BrokenCircuitError, type CircuitBreakerPolicy } from "cockatiel";
import type { CallHooks, PartnerClientOptions, RawAnswer } from "./call.ts";
import type { OperationName } from "./contract.ts";
import { PartnerProtocolError, PartnerUnavailableError } from "./errors.ts";
import type { PreparedRequest } from "./request.ts";
import type { TokenSource } from "./token-source.ts";
import type { PartnerFetch } from "./transport.ts";

/** The `outcome` label of `partnerRequests`. */
export type RequestOutcome =
  | "success"
  | "timeout"
  | "network"
  | "not_sent"
  | "circuit_open"
  | "token_unavailable"
  | "protocol_error"
  | "unauthorized"
  | "rate_limited"
  | "unavailable"
  | "rejected";

export interface Answer extends RawAnswer {
  retryAfterMs: number | null;
}

/** How one attempt ended, once a request has left. */
export type AttemptResult =
  | { kind: "answer"; answer: Answer }
  | { kind: "no_answer"; reason: "timeout" | "network" }
  | { kind: "oversize"; status: number };

export type SentAttempt = AttemptResult & {
  /** The token the request carried, to name it as rejected after a 401. */
  token: string;
  /** When the call's time is up; fixed by the first attempt. */
  deadline: number;
  latencyMs: number;
};

export interface AttemptDeps {
  partner: string;
  tokenSource: TokenSource;
  fetch: PartnerFetch;
  timeoutMs: number;
  maxResponseBytes: number;
  breaker: CircuitBreakerPolicy;
  beforeSend: PartnerClientOptions["beforeSend"];
  count(operation: OperationName, outcome: RequestOutcome): void;
  /** Puts the attempt's span on the request (`traceparent`), so the partner's trace joins ours. */
  tracing: Tracing;
}

export interface AttemptInput {
  operation: OperationName;
  prepared: PreparedRequest;
  attempt: number;
  hooks: CallHooks;
  signal: AbortSignal | undefined;
  /** Infinite until the first request is sent. */
  deadline: number;
  rejectedToken: string | undefined;
  bypassBreaker?: boolean;
}

/** A result the circuit breaker counts as a partner failure. */
class CountedFailure extends Error {
  constructor(readonly result: AttemptResult) {
    super(result.kind);
  }
}

export const isCountedFailure = (error: unknown): boolean => error instanceof CountedFailure;

/**
 * Sends one request and classifies what came back. Throws when nothing was sent (deadline
 * passed, `beforeSend`, open circuit, token, hooks) and on the caller's abort.
 */
export async function sendAttempt(deps: AttemptDeps, input: AttemptInput): Promise<SentAttempt> {
  const { operation, prepared, attempt, signal } = input;
  signal?.throwIfAborted();
  if (input.deadline - Date.now() <= 0) {
    deps.count(operation, "timeout");
    throw new PartnerUnavailableError(
      `partner ${deps.partner} did not answer within ${deps.timeoutMs} ms`,
    );
  }
  if (deps.beforeSend) {
    try {
      await deps.beforeSend({ operation, attempt });
    } catch (error) {
      deps.count(operation, "not_sent");
      throw error;
    }
  }

  let token = "";
  let deadline = input.deadline;
  let started = 0;
  let result: AttemptResult;
  try {
    const guarded = <R>(work: () => Promise<R>) =>
      input.bypassBreaker ? work() : deps.breaker.execute(work);
    result = await guarded(async (): Promise<AttemptResult> => {
      token = await deps.tokenSource.getToken([prepared.scope], { rejected: input.rejectedToken });
      await input.hooks.beforeAttempt({ attempt });
      // The deadline covers the partner's part: it starts when the first request is sent, so
      // time spent queueing for our own audit write does not eat into it.
      if (attempt === 1) deadline = Date.now() + deps.timeoutMs;
      started = performance.now();
      const signals = [AbortSignal.timeout(deadline - Date.now())];
      if (signal) signals.push(signal);
      const answered = await exchange(deps, prepared, token, AbortSignal.any(signals), signal);
      if (answered.kind !== "answer" || answered.answer.status >= 500)
        throw new CountedFailure(answered);
      return answered;
    });
  } catch (error) {
    if (error instanceof BrokenCircuitError) {
      deps.count(operation, "circuit_open");
      throw new PartnerUnavailableError(`partner ${deps.partner} is unavailable (circuit open)`);
    }
    if (!(error instanceof CountedFailure)) {
      if (error instanceof PartnerUnavailableError) deps.count(operation, "token_unavailable");
      throw error; // token source, hooks (consent, audit) or the caller's abort
    }
    result = error.result;
  }
  return { ...result, token, deadline, latencyMs: Math.round(performance.now() - started) };
}

/** The fetch and the bounded body read; only the caller's abort escapes as an error. */
async function exchange(
  deps: AttemptDeps,
  prepared: PreparedRequest,
  token: string,
  signal: AbortSignal,
  callerSignal: AbortSignal | undefined,
): Promise<AttemptResult> {
  let response: Response;
  const trace: Record<string, string> = {};
  deps.tracing.inject(trace);
  try {
    response = await deps.fetch(prepared.url, prepared.init(token, signal, trace));
  } catch (error) {
    if (callerSignal?.aborted) throw error;
    const timedOut =
      error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
    return { kind: "no_answer", reason: timedOut ? "timeout" : "network" };
  }
  let text: string;
  try {
    text = await readBody(response, deps.maxResponseBytes);
  } catch (error) {
    if (error instanceof PartnerProtocolError) return { kind: "oversize", status: response.status };
    return { kind: "no_answer", reason: "timeout" };
  }
  return {
    kind: "answer",
    answer: {
      status: response.status,
      url: prepared.url,
      text,
      headers: response.headers,
      retryAfterMs: parseRetryAfter(response.headers.get("retry-after")),
    },
  };
}

async function readBody(response: Response, limit: number): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > limit) {
    await response.body?.cancel();
    throw new PartnerProtocolError(`partner response larger than ${limit} bytes`, "oversize");
  }
  const buffer = await response.arrayBuffer();
  if (buffer.byteLength > limit)
    throw new PartnerProtocolError(`partner response larger than ${limit} bytes`, "oversize");
  return UTF8.decode(buffer);
}

/** Stateless between calls (no `stream` option): one for every answer. */
const UTF8 = new TextDecoder();

/** Seconds or an HTTP date, per RFC 9110 §10.2.3. */
export function parseRetryAfter(value: string | null, nowMs = Date.now()): number | null {
  if (!value) return null;
  if (/^\d{1,9}$/.test(value.trim())) return Number(value.trim()) * 1000;
  if (!/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(value.trim()))
    return null;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - nowMs);
}
