import { ConsentRequiredError } from "@propgate/consent-audit";
import type { PartnerPurpose } from "@propgate/domain";

/**
 * Partner calls in flight, by resident and purpose, so that a revocation seen on the consent bus
 * abandons their retries and waits at once (invariant 2; the per-attempt consent check in the
 * database stops anything that would start later).
 */
export function createInflightCalls() {
  const calls = new Map<string, Set<AbortController>>();
  const key = (userId: string, purpose: string) => `${purpose}\u0000${userId}`;
  let running = 0;
  let waiters: Array<() => void> = [];

  return {
    /**
     * Runs `call` with a signal that a revocation of `purpose` for `userId` aborts; the call then
     * fails with ConsentRequiredError whatever it was doing.
     */
    async run<T>(
      userId: string,
      purpose: PartnerPurpose,
      call: (signal: AbortSignal) => Promise<T>,
    ) {
      const controller = new AbortController();
      const k = key(userId, purpose);
      const set = calls.get(k) ?? new Set<AbortController>();
      calls.set(k, set);
      set.add(controller);
      running += 1;
      try {
        return await call(controller.signal);
      } catch (error) {
        const reason: unknown = controller.signal.reason;
        if (controller.signal.aborted && reason instanceof ConsentRequiredError) throw reason;
        throw error;
      } finally {
        running -= 1;
        if (running === 0) for (const wake of waiters.splice(0)) wake();
        set.delete(controller);
        // Only our own set: after revoke → re-grant a newer call may own the key now.
        if (set.size === 0 && calls.get(k) === set) calls.delete(k);
      }
    },
    /**
     * Resolves once no call is in flight, or after `maxMs`: at stop, a call whose client went
     * away still writes its audit rows before the writer's last flush.
     */
    idle(maxMs: number): Promise<void> {
      if (running === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(done, maxMs);
        function done() {
          clearTimeout(timer);
          waiters = waiters.filter((wake) => wake !== done);
          resolve();
        }
        waiters.push(done);
      });
    },
    /** How many calls are in flight now. */
    get running() {
      return running;
    },
    /** Aborts the resident's calls for the purpose; returns how many were in flight. */
    abort(userId: string, purpose: string): number {
      const set = calls.get(key(userId, purpose));
      if (!set) return 0;
      calls.delete(key(userId, purpose));
      for (const controller of set)
        controller.abort(new ConsentRequiredError(purpose, "revoked-in-flight"));
      return set.size;
    },
  };
}

export type InflightCalls = ReturnType<typeof createInflightCalls>;
