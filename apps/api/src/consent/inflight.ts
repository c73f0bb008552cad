import { ConsentRequiredError } from "@propgate/consent-audit";

/**
 * Partner calls in flight, by resident and purpose, so that a revocation seen on the consent bus
 * abandons their retries and waits at once (the per-attempt consent check in the database stops
 * anything that would start later).
 */
export function createInflightCalls() {
  const calls = new Map<string, Set<AbortController>>();
  const key = (userId: string, purpose: string) => `${purpose}\u0000${userId}`;
  return {
    track(userId: string, purpose: string) {
      const controller = new AbortController();
      const k = key(userId, purpose);
      let set = calls.get(k);
      if (!set) {
        set = new Set();
        calls.set(k, set);
      }
      set.add(controller);
      return {
        signal: controller.signal,
        release() {
          set.delete(controller);
          if (set.size === 0) calls.delete(k);
        },
      };
    },
    /** Aborts the resident's calls for the purpose; returns how many were in flight. */
    abort(userId: string, purpose: string): number {
      const set = calls.get(key(userId, purpose));
      if (!set) return 0;
      for (const controller of set)
        controller.abort(new ConsentRequiredError(purpose, "revoked-in-flight"));
      calls.delete(key(userId, purpose));
      return set.size;
    },
    size: () => [...calls.values()].reduce((sum, set) => sum + set.size, 0),
  };
}

export type InflightCalls = ReturnType<typeof createInflightCalls>;
