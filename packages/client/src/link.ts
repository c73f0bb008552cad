import {
  type Operation,
  type OperationResultEnvelope,
  TRPCClientError,
  type TRPCLink,
} from "@trpc/client";
import type { inferRouterInputs } from "@trpc/server";
import { observable, type Unsubscribable } from "@trpc/server/observable";
import type { AppRouter } from "./app-router.ts";
import { PropgateError, responseOf } from "./errors.ts";
import {
  type HeaderSource,
  parseRateLimits,
  parseRetryAfter,
  type RateLimitState,
} from "./headers.ts";

/** How a safe call is retried after a `429` or a `503`. */
export interface RetryPolicy {
  /** Retries after the first attempt, at most (default 1). */
  maxRetries: number;
  /** The longest wait honoured (default 5000 ms): an answer asking for longer ends the call. */
  maxWaitMs: number;
  /** The wait when the answer names none (default 1000 ms). */
  defaultWaitMs: number;
}

/** The app's token: the current one, or (`refresh: true`, after an `UNAUTHORIZED`) a new one. */
export type GetToken = (options?: { refresh?: boolean }) => string | null | Promise<string | null>;

export interface PropgateLinkOptions {
  /** Null in session mode: no token is sent, and an `UNAUTHORIZED` is not replayed. */
  getToken: GetToken | null;
  retry: RetryPolicy;
  newIdempotencyKey: () => string;
  onAnswer: (state: RateLimitState) => void;
  /** Told when a call ends with a gateway's `401 SESSION_REQUIRED`, before the call fails. */
  onSessionRequired?: (error: PropgateError) => void;
}

/** Where the link leaves an attempt's token for the `httpLink` headers to send. */
export const TOKEN_CONTEXT_KEY = "propgateToken";

type Inputs = inferRouterInputs<AppRouter>;
/**
 * The key the opens and a guest key's create take, from the router's types: a type error here
 * if one stops taking it. A retried `keys.create` with its key makes one key at the partner.
 */
type OpenKey = NonNullable<
  Inputs["intercom"]["openDoor"]["idempotencyKey"] &
    Inputs["barrier"]["open"]["idempotencyKey"] &
    Inputs["keys"]["create"]["idempotencyKey"]
>;
const OPENS: ReadonlySet<string> = new Set(["intercom.openDoor", "barrier.open", "keys.create"]);

type Envelope = OperationResultEnvelope<unknown, TRPCClientError<AppRouter>>;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * An open without a key of the caller's gets one, kept for all of this call's attempts. A guest
 * key's create also gets its `validFrom` pinned to now: every attempt must ask the partner for the
 * same key, or its idempotency check refuses the retry.
 */
function withIdempotencyKey(op: Operation, newKey: () => string): Operation {
  if (op.type !== "mutation" || !OPENS.has(op.path) || !isObject(op.input)) return op;
  const pinned =
    op.path === "keys.create" && op.input.validFrom === undefined
      ? { validFrom: new Date().toISOString() }
      : {};
  if (op.input.idempotencyKey !== undefined) return { ...op, input: { ...op.input, ...pinned } };
  const idempotencyKey: OpenKey = newKey();
  return { ...op, input: { ...op.input, ...pinned, idempotencyKey } };
}

/** A call that may be sent again: a query, or a mutation that carries an idempotency key. */
function isSafe(op: Operation): boolean {
  if (op.type === "query") return true;
  return (
    op.type === "mutation" && isObject(op.input) && typeof op.input.idempotencyKey === "string"
  );
}

function statusOf(error: TRPCClientError<AppRouter>): number | null {
  return error.data?.httpStatus ?? responseOf(error)?.status ?? null;
}

function isUnauthorized(error: TRPCClientError<AppRouter>): boolean {
  return error.data?.cause?.code === "UNAUTHORIZED" || statusOf(error) === 401;
}

/** How long to wait before the next attempt, or null when the error ends the call. */
function retryWait(
  error: TRPCClientError<AppRouter>,
  safe: boolean,
  retries: number,
  policy: RetryPolicy,
): number | null {
  const status = statusOf(error);
  if (!safe || retries >= policy.maxRetries || (status !== 429 && status !== 503)) return null;
  const response = responseOf(error);
  const seconds =
    (response ? parseRetryAfter(response.headers) : null) ??
    error.data?.cause?.retryAfterSeconds ??
    null;
  const waitMs = seconds === null ? policy.defaultWaitMs : seconds * 1000;
  return waitMs <= policy.maxWaitMs ? waitMs : null;
}

function answerHeaders(value: unknown): { status: number; headers: HeaderSource } | null {
  if (!isObject(value) || !isObject(value.response)) return null;
  const response = value.response as { status?: unknown; headers?: unknown };
  if (typeof response.status !== "number" || !isObject(response.headers)) return null;
  const headers = response.headers as Partial<HeaderSource>;
  return typeof headers.get === "function"
    ? { status: response.status, headers: headers as HeaderSource }
    : null;
}

/**
 * The link in front of tRPC's `httpLink`: per call, the token (a refresh and one replay after
 * `UNAUTHORIZED`, which the api answers before doing anything), an idempotency key for the
 * opens, bounded retries of safe calls after `429`/`503` honouring `Retry-After`, the
 * `RateLimit` fields of every answer, and errors as `PropgateError` (a gateway's
 * `SESSION_REQUIRED` told to `onSessionRequired` first).
 */
export function propgateLink(options: PropgateLinkOptions): TRPCLink<AppRouter> {
  return () =>
    ({ op, next }) => {
      if (op.type === "subscription") return next(op);
      return observable<Envelope, TRPCClientError<AppRouter>>((observer) => {
        let stopped = false;
        let current: Unsubscribable | null = null;
        let timer: ReturnType<typeof setTimeout> | undefined;
        let wake: (() => void) | null = null;

        const record = (answer: { status: number; headers: HeaderSource } | null) => {
          if (!answer) return;
          options.onAnswer({
            procedure: op.path,
            status: answer.status,
            receivedAt: Date.now(),
            limits: parseRateLimits(answer.headers),
          });
        };
        const attempt = (attemptOp: Operation) =>
          new Promise<Envelope>((resolve, reject) => {
            let last: Envelope | undefined;
            current = next(attemptOp).subscribe({
              next(envelope) {
                last = envelope;
              },
              error: reject,
              complete() {
                if (last) resolve(last);
                else reject(new TRPCClientError("the call ended without a result"));
              },
            });
          });
        const sleep = (ms: number) =>
          new Promise<void>((resolve) => {
            wake = resolve;
            timer = setTimeout(resolve, ms);
          });

        const run = async (): Promise<Envelope | null> => {
          const call = withIdempotencyKey(op, options.newIdempotencyKey);
          const safe = isSafe(call);
          let refreshed = false;
          let retries = 0;
          for (;;) {
            const token = options.getToken
              ? await options.getToken(refreshed ? { refresh: true } : undefined)
              : null;
            if (stopped) return null;
            try {
              const envelope = await attempt({
                ...call,
                context: { ...call.context, [TOKEN_CONTEXT_KEY]: token },
              });
              record(answerHeaders(envelope.context));
              return envelope;
            } catch (caught) {
              const error = TRPCClientError.from<AppRouter>(caught as Error);
              record(answerHeaders(error.meta));
              if (stopped) return null;
              if (options.getToken && isUnauthorized(error) && !refreshed) {
                refreshed = true;
                continue;
              }
              const waitMs = retryWait(error, safe, retries, options.retry);
              if (waitMs === null) {
                const failure = new PropgateError(error, op.path);
                if (failure.code === "SESSION_REQUIRED" && failure.httpStatus === 401)
                  options.onSessionRequired?.(failure);
                throw failure;
              }
              retries++;
              await sleep(waitMs);
              if (stopped) return null;
            }
          }
        };

        run().then(
          (envelope) => {
            if (!envelope || stopped) return;
            observer.next(envelope);
            observer.complete();
          },
          (error: unknown) => {
            if (!stopped) observer.error(TRPCClientError.from<AppRouter>(error as Error));
          },
        );
        return () => {
          stopped = true;
          clearTimeout(timer);
          wake?.();
          (current as Unsubscribable | null)?.unsubscribe();
        };
      });
    };
}
