import { SpanKind, SpanStatusCode, TRACING_OFF } from "@propgate/observability";
import { CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen } from "cockatiel";
import {
  type AttemptDeps,
  isCountedFailure,
  type RequestOutcome,
  type SentAttempt,
  sendAttempt,
} from "./attempt.ts";
import type { CallHooks, CallRequest, PartnerClient, PartnerClientOptions } from "./call.ts";
import { OPERATIONS, type OperationName } from "./contract.ts";
import { PartnerProtocolError } from "./errors.ts";
import { buildRequest } from "./request.ts";
import { type AttemptRecord, decide, pause, type RetryPolicy } from "./retry-policy.ts";

export { parseRetryAfter } from "./attempt.ts";
export type {
  AttemptInfo,
  AttemptOutcome,
  CallHooks,
  CallRequest,
  PartnerClient,
  PartnerClientOptions,
  RawAnswer,
} from "./call.ts";

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

  const tracing = options.tracing ?? TRACING_OFF;
  const attemptDeps: AttemptDeps = {
    partner,
    tokenSource: options.tokenSource,
    fetch: options.fetch,
    timeoutMs: options.timeoutMs,
    maxResponseBytes: options.maxResponseBytes ?? 1024 * 1024,
    breaker,
    beforeSend: options.beforeSend,
    count,
    tracing,
  };

  async function call<T>(request: CallRequest<T>): Promise<T> {
    const { operation, signal } = request;
    const prepared = buildRequest(options.baseUrl, request);
    const hooks = request.hooks ?? NO_HOOKS;
    let deadline = Number.POSITIVE_INFINITY;
    let rejectedToken: string | undefined;
    let replayedAfter401 = false;

    for (let attempt = 1; ; attempt++) {
      // One span per attempt: its token fetch and audit commit inside, its outcome and status on
      // it; the pause before a retry lies between two of them.
      const { sent, verdict } = await tracing.span(
        `partner ${operation}`,
        {
          "propgate.partner": partner,
          "propgate.operation": operation,
          "propgate.attempt": attempt,
          "http.request.method": prepared.method,
          "url.template": OPERATIONS[operation].path,
          "server.address": options.baseUrl.hostname,
        },
        async (span) => {
          const sent = await sendAttempt(attemptDeps, {
            operation,
            prepared,
            attempt,
            hooks,
            signal,
            deadline,
            rejectedToken,
            bypassBreaker: request.bypassBreaker,
          });
          const verdict = decide(policy, request, sent, {
            attempt,
            retrySafe: prepared.retrySafe,
            replayedAfter401,
          });
          await record(operation, hooks, attempt, sent, verdict.record);
          span.setAttribute("propgate.outcome", verdict.record.metric);
          if (verdict.record.httpStatus !== null)
            span.setAttribute("http.response.status_code", verdict.record.httpStatus);
          if (verdict.record.outcome !== "success") span.setStatus({ code: SpanStatusCode.ERROR });
          return { sent, verdict };
        },
        SpanKind.CLIENT,
      );
      deadline = sent.deadline;

      switch (verdict.next) {
        case "return":
          return verdict.value;
        case "fail":
          if (verdict.alert) options.logger?.error({ partner, operation }, verdict.alert);
          if (verdict.error instanceof PartnerProtocolError)
            refused(operation, sent, verdict.error);
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

  /** An answer refused as breaking the contract: one warning and the counter; never the body. */
  function refused(operation: OperationName, sent: SentAttempt, error: PartnerProtocolError) {
    const status =
      sent.kind === "answer" ? sent.answer.status : sent.kind === "oversize" ? sent.status : null;
    const { reason, fields } = error;
    options.metrics?.partnerProtocolErrors.inc({ partner, operation, reason });
    options.logger?.warn(
      { partner, operation, status, reason, ...(fields.length > 0 ? { fields } : {}) },
      "partner answer refused: it breaks the contract",
    );
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
