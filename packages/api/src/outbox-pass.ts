import { PartnerRejectedError } from "@propgate/partner-client";

/**
 * What the durable queues (erasure outbox, video end queue) share: one pass at a time, run by a
 * timer and on demand, stopped in order; and how a failed partner call is recorded and backed off.
 */
export interface PeriodicPass {
  /** Runs one pass now, or joins the one running (see `rerunWhenBusy`); resolves with it. */
  runOnce(): Promise<number>;
  stop(): Promise<void>;
}

export function startPeriodicPass(
  pass: () => Promise<number>,
  intervalMs: number,
  onError: (error: unknown) => void,
  /** A call during a pass runs one more after it, so nothing queued meanwhile waits a tick. */
  rerunWhenBusy = false,
): PeriodicPass {
  let running: Promise<number> | null = null;
  let again = false;
  let stopped = false;

  function runOnce(): Promise<number> {
    if (running) {
      again ||= rerunWhenBusy;
      return running;
    }
    running = pass().finally(() => {
      running = null;
      if (again && !stopped) {
        again = false;
        void runOnce().catch(onError);
      }
    });
    return running;
  }

  const timer = setInterval(() => {
    if (!stopped) runOnce().catch(onError);
  }, intervalMs);

  return {
    runOnce,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running?.catch(() => {});
    },
  };
}

/** The short code a failed attempt keeps (`http_503`, `partner_unavailable`): never partner text. */
export function failureCode(error: unknown): string {
  const code =
    error instanceof PartnerRejectedError
      ? `http_${error.status}`
      : ((error as { code?: string }).code ?? "error").toLowerCase();
  return code.slice(0, 64);
}

/** The back-off of a durable queue's failed partner calls. */
export interface RetryBackoff {
  /** First wait after a failure, doubled per failure up to `maxRetrySeconds`. */
  baseRetrySeconds: number;
  maxRetrySeconds: number;
}

/** Doubling back-off after `attempts` failures, capped. */
export function retryDelaySeconds(attempts: number, policy: RetryBackoff): number {
  return Math.min(policy.maxRetrySeconds, policy.baseRetrySeconds * 2 ** attempts);
}
