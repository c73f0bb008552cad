import { Redis } from "ioredis";

export type RedisConnection = Redis;

/**
 * The one Redis connection of an api instance (REDIS_URL), opened and closed by the instance and
 * shared by the rate limits and the anomaly rules. No offline queue and a short command timeout:
 * while Redis is down or slow a count falls back to this instance's memory at once instead of
 * waiting in a queue. Commands issued in the same tick (a call's limits, those of concurrent
 * requests) go out in one write: every socket write costs the event loop a system call.
 */
export function openRedis(url: string): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    commandTimeout: 500,
    connectTimeout: 2000,
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => Math.min(times * 200, 5000),
  });
}

/** Closes the connection quietly: its users have stopped, and a shutdown is no outage to report. */
export function closeRedis(redis: Redis): void {
  redis
    .removeAllListeners("close")
    .removeAllListeners("error")
    .on("error", () => {});
  redis.disconnect();
}
