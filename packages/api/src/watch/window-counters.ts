import type { Logger } from "@propgate/observability";
import type { Redis } from "ioredis";

/** Counts of one window and the one before it, for the sliding estimate. */
export interface WindowCounts {
  current: number;
  previous: number;
}

/** The anomaly rules' counts per key and fixed window (`bucket`: the window's number). */
export interface WindowCounters {
  count(key: string, bucket: number, windowSeconds: number): Promise<WindowCounts>;
  distinct(
    key: string,
    member: string,
    bucket: number,
    windowSeconds: number,
  ): Promise<WindowCounts>;
  close(): Promise<void>;
}

/** How many keys the in-memory counters keep before they forget the oldest windows. */
const MEMORY_MAX_KEYS = 50_000;

/** This process's own counts: without Redis, and while Redis is out of reach. */
export function memoryCounters(): WindowCounters {
  const windows = new Map<string, { count: number; members?: Set<string> }>();
  const slot = (key: string, bucket: number) => `${key}\u0000${bucket}`;
  const forgetOldest = () => {
    // Map keeps insertion order: the oldest windows go first.
    for (const k of windows.keys()) {
      if (windows.size <= MEMORY_MAX_KEYS * 0.9) break;
      windows.delete(k);
    }
  };
  const entry = (key: string, bucket: number) => {
    const k = slot(key, bucket);
    let found = windows.get(k);
    if (!found) {
      if (windows.size >= MEMORY_MAX_KEYS) forgetOldest();
      // Two windows back is never read again.
      windows.delete(slot(key, bucket - 2));
      found = { count: 0 };
      windows.set(k, found);
    }
    return found;
  };
  return {
    async count(key, bucket) {
      const now = entry(key, bucket);
      now.count += 1;
      return { current: now.count, previous: windows.get(slot(key, bucket - 1))?.count ?? 0 };
    },
    async distinct(key, member, bucket) {
      const now = entry(key, bucket);
      now.members ??= new Set();
      // A set of at most 10,000 members per window: far above any threshold, bounded memory.
      if (now.members.size < 10_000) now.members.add(member);
      const previous = windows.get(slot(key, bucket - 1))?.members?.size ?? 0;
      return { current: now.members.size, previous };
    },
    async close() {
      windows.clear();
    },
  };
}

/**
 * Counts shared by every instance, on the instance's Redis connection: INCR for counts,
 * HyperLogLog (PFADD/PFCOUNT, ±1 %) for distinct counts; `fallback` answers while Redis fails.
 * `close` stops following the connection (its owner closes it) and clears the fallback.
 */
export function redisCounters(
  redis: Redis,
  prefix: string,
  fallback: WindowCounters,
  logger: Logger,
): WindowCounters {
  let down = false;
  const lost = () => {
    if (down) return;
    down = true;
    logger.warn("watch redis unreachable: anomaly counts are this instance's own until it returns");
  };
  const ready = () => {
    down = false;
  };
  redis.on("error", lost).on("ready", ready);
  const k = (key: string, bucket: number) => `${prefix}watch:${key}:${bucket}`;
  const numbers = (replies: [Error | null, unknown][] | null, at: number[]) =>
    at.map((i) => {
      const [error, value] = replies?.[i] ?? [new Error("no reply"), null];
      if (error) throw error;
      return Number(value);
    });
  return {
    async count(key, bucket, windowSeconds) {
      try {
        const replies = await redis
          .multi()
          .incr(k(key, bucket))
          .expire(k(key, bucket), windowSeconds * 2 + 5)
          .get(k(key, bucket - 1))
          .exec();
        const [current = 0, previous = 0] = numbers(replies, [0, 2]);
        return { current, previous: Number.isFinite(previous) ? previous : 0 };
      } catch {
        return fallback.count(key, bucket, windowSeconds);
      }
    },
    async distinct(key, member, bucket, windowSeconds) {
      try {
        const replies = await redis
          .multi()
          .pfadd(k(key, bucket), member)
          .expire(k(key, bucket), windowSeconds * 2 + 5)
          .pfcount(k(key, bucket))
          .pfcount(k(key, bucket - 1))
          .exec();
        const [current = 0, previous = 0] = numbers(replies, [2, 3]);
        return { current, previous };
      } catch {
        return fallback.distinct(key, member, bucket, windowSeconds);
      }
    },
    async close() {
      redis.off("error", lost).off("ready", ready);
      await fallback.close();
    },
  };
}
