/**
 * Stored outcomes of open calls by (client, path, Idempotency-Key). The entry is created before
 * the work starts and holds its promise, so concurrent requests with one key share one outcome.
 */
export interface IdempotencyStore<T> {
  /**
   * Runs `work` once per key: a later call with the same key and fingerprint gets the stored
   * result (`replayed: true`); with another fingerprint it gets `conflict`.
   */
  run(
    key: string,
    fingerprint: string,
    work: () => Promise<T>,
  ): Promise<{ kind: "fresh" | "replayed"; value: T } | { kind: "conflict" }>;
  clear(): void;
}

interface Entry<T> {
  fingerprint: string;
  createdAt: number;
  outcome: Promise<T>;
}

export function createIdempotencyStore<T>(
  options: { ttlMs?: number; capacity?: number; now?: () => number } = {},
): IdempotencyStore<T> {
  const ttlMs = options.ttlMs ?? 24 * 60 * 60 * 1000;
  const capacity = options.capacity ?? 100_000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry<T>>();

  /** Map order is insertion order, so the oldest entries are first. */
  function evict(at: number) {
    for (const [key, entry] of entries) {
      if (entries.size < capacity && at - entry.createdAt < ttlMs) break;
      entries.delete(key);
    }
  }

  return {
    async run(key, fingerprint, work) {
      const at = now();
      evict(at);
      const existing = entries.get(key);
      if (existing) {
        if (existing.fingerprint !== fingerprint) return { kind: "conflict" };
        return { kind: "replayed", value: await existing.outcome };
      }
      const outcome = work();
      entries.set(key, { fingerprint, createdAt: at, outcome });
      // A failed run is not stored: the next request with this key tries again.
      outcome.catch(() => entries.delete(key));
      return { kind: "fresh", value: await outcome };
    },
    clear() {
      entries.clear();
    },
  };
}
