import type { Answer, RequestOutcome, SentAttempt } from "./attempt.ts";
import type { AttemptOutcome, CallRequest } from "./call.ts";
import { PartnerErrorBody } from "./contract.ts";
import {
  ContractViolation,
  PartnerProtocolError,
  PartnerRejectedError,
  PartnerUnavailableError,
  type ProtocolReason,
} from "./errors.ts";

export interface RetryPolicy {
  partner: string;
  timeoutMs: number;
  maxAttempts: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  maxRetryAfterMs: number;
}

export interface CallProgress {
  attempt: number;
  retrySafe: boolean;
  replayedAfter401: boolean;
}

/** What is recorded about one answer: the `afterAttempt` row and the metric label. */
export interface AttemptRecord
  extends Pick<AttemptOutcome, "outcome" | "httpStatus" | "errorCode"> {
  metric: RequestOutcome;
}

export type Verdict<T> = { record: AttemptRecord } & (
  | { next: "return"; value: T }
  | { next: "fail"; error: Error; alert?: string }
  | { next: "replay"; rejectedToken: string }
  /** Wait, then try again; `otherwise` ends the call when the wait would pass the deadline. */
  | { next: "retry"; waitMs: number; otherwise: PartnerUnavailableError }
);

/** What to do with the outcome of one attempt. */
export function decide<T>(
  policy: RetryPolicy,
  request: CallRequest<T>,
  sent: SentAttempt,
  progress: CallProgress,
): Verdict<T> {
  const { partner } = policy;
  const mayRetry = progress.retrySafe && progress.attempt < policy.maxAttempts;

  if (sent.kind === "no_answer") {
    const record = failure(null, sent.reason, sent.reason);
    const error = new PartnerUnavailableError(
      sent.reason === "timeout"
        ? `partner ${partner} did not answer within ${policy.timeoutMs} ms`
        : `partner ${partner} could not be reached`,
    );
    return mayRetry
      ? { record, next: "retry", waitMs: backoff(policy, progress.attempt), otherwise: error }
      : { record, next: "fail", error };
  }
  if (sent.kind === "oversize") {
    return {
      record: failure(sent.status, "protocol", "protocol_error"),
      next: "fail",
      error: new PartnerProtocolError(`partner ${partner} sent an oversized response`, "oversize"),
    };
  }

  const { answer } = sent;
  const { status } = answer;
  if (status >= 200 && status < 300) {
    const decoded = decodeAnswer(request, answer);
    if (!decoded.ok) {
      return {
        record: failure(status, "protocol", "protocol_error"),
        next: "fail",
        error: new PartnerProtocolError(
          `partner ${partner} answered ${request.operation} with ${decoded.problem}`,
          decoded.reason,
          decoded.fields,
        ),
      };
    }
    return {
      record: { outcome: "success", httpStatus: status, errorCode: null, metric: "success" },
      next: "return",
      value: decoded.data,
    };
  }

  const partnerError = PartnerErrorBody.safeParse(parseJson(answer.text));
  const errorCode = auditErrorCode(status, partnerError.success ? partnerError.data.error : null);
  if (status === 401) {
    const record = failure(status, errorCode, "unauthorized");
    // One forced refresh and one replay: the partner refused the token before acting.
    if (!progress.replayedAfter401) return { record, next: "replay", rejectedToken: sent.token };
    return {
      record,
      next: "fail",
      error: new PartnerUnavailableError(`partner ${partner} refused our credentials`),
      alert: "partner refused a fresh token",
    };
  }
  if (status === 429 || status >= 500) {
    const record = failure(status, errorCode, status === 429 ? "rate_limited" : "unavailable");
    const retryAfter = answer.retryAfterMs;
    const wait = retryAfter ?? backoff(policy, progress.attempt);
    const error = new PartnerUnavailableError(
      `partner ${partner} is ${status === 429 ? "rate limiting us" : `unavailable (HTTP ${status})`}`,
      retryAfter === null ? null : Math.ceil(retryAfter / 1000),
    );
    return mayRetry && wait <= policy.maxRetryAfterMs
      ? { record, next: "retry", waitMs: wait, otherwise: error }
      : { record, next: "fail", error };
  }
  return {
    record: failure(status, errorCode, "rejected"),
    next: "fail",
    error: new PartnerRejectedError(
      `partner ${partner} rejected ${request.operation} (HTTP ${status})`,
      status,
      partnerError.success ? partnerError.data.error.slice(0, 64) : null,
    ),
  };
}

/** A partner's own error code, when it is a plain snake_case word (no digits, nothing else). */
const PLAIN_CODE = /^[a-z]{1,32}(?:_[a-z]{1,32}){0,3}$/;

/**
 * The code an answer's audit row keeps: the partner's own when it is a plain word
 * (`conflict`, `rate_limited`), otherwise `http_<status>`. Partner text can hold anything — a
 * plate, a name — so it never reaches the audit as it is, and never stops the row.
 */
export function auditErrorCode(status: number, partnerCode: string | null): string {
  return partnerCode !== null && PLAIN_CODE.test(partnerCode) ? partnerCode : `http_${status}`;
}

function failure(
  httpStatus: number | null,
  errorCode: string,
  metric: RequestOutcome,
): AttemptRecord {
  return { outcome: "failure", httpStatus, errorCode, metric };
}

/** Full jitter under an exponential ceiling. */
function backoff(policy: RetryPolicy, attempt: number): number {
  const ceiling = Math.min(policy.retryMaxDelayMs, policy.retryBaseDelayMs * 2 ** (attempt - 1));
  return Math.random() * ceiling;
}

/** Waits `ms` unless that would pass the deadline; says whether it waited. An abort ends the wait. */
export async function pause(ms: number, deadline: number, signal?: AbortSignal): Promise<boolean> {
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

type Decoded<T> =
  | { ok: true; data: T }
  | { ok: false; problem: string; reason: ProtocolReason; fields: readonly string[] };

/** Read tolerantly: the fields we use are checked, unknown ones are dropped by the schema. */
function decodeAnswer<T>(request: CallRequest<T>, answer: Answer): Decoded<T> {
  if (request.decode) {
    try {
      return { ok: true, data: request.decode(answer) };
    } catch (error) {
      if (error instanceof ContractViolation) {
        return {
          ok: false,
          problem: `an answer that breaks the contract: ${error.message.slice(0, 200)}`,
          reason: error.reason,
          fields: error.fields,
        };
      }
      return {
        ok: false,
        problem: "an answer that breaks the contract",
        reason: "schema",
        fields: [],
      };
    }
  }
  const parsed = parseJson(answer.text);
  if (parsed === undefined)
    return { ok: false, problem: "a body that is not JSON", reason: "not_json", fields: [] };
  const checked = request.response?.safeParse(parsed);
  if (checked?.success) return { ok: true, data: checked.data };
  return {
    ok: false,
    problem: "a body that breaks the contract",
    reason: "schema",
    fields: issueFields(checked?.error.issues ?? []),
  };
}

/** The schema paths at fault (`eventId`, `plates.0.plate`): our names, never the values. */
export function issueFields(issues: readonly { path: readonly PropertyKey[] }[]): string[] {
  const fields = issues.map((issue) => issue.path.map(String).join(".") || "(body)");
  return [...new Set(fields)].slice(0, 8);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
