import type { Metrics } from "@propgate/observability";

/**
 * A cap on the secret verifications the token endpoint runs at once: each is an argon2id check
 * (~100-300 ms of a core and 64 MiB with Bun's defaults) in the process that serves residents.
 */
export interface VerificationSlots {
  /**
   * A slot's release, once one is free: at once under the cap, else after waiting in a queue of
   * bounded length. Null when the queue is full too: the caller refuses the request.
   */
  acquire(): Promise<(() => void) | null>;
}

export function createVerificationSlots(
  options: { concurrency: number; queue: number },
  metrics: Pick<Metrics, "partnerTokenVerificationsInFlight" | "partnerTokenVerificationsWaiting">,
): VerificationSlots {
  let inFlight = 0;
  const waiting: Array<() => void> = [];

  const releaser = () => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = waiting.shift();
      if (next) {
        // The slot passes straight to the next in line: in flight stays the same.
        metrics.partnerTokenVerificationsWaiting.dec();
        next();
      } else {
        inFlight--;
        metrics.partnerTokenVerificationsInFlight.dec();
      }
    };
  };

  return {
    async acquire() {
      if (inFlight < options.concurrency) {
        inFlight++;
        metrics.partnerTokenVerificationsInFlight.inc();
        return releaser();
      }
      if (waiting.length >= options.queue) return null;
      metrics.partnerTokenVerificationsWaiting.inc();
      await new Promise<void>((resolve) => waiting.push(resolve));
      return releaser();
    },
  };
}
