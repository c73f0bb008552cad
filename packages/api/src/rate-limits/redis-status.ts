import type { Logger, Metrics } from "@propgate/observability";
import type { Redis } from "ioredis";

/**
 * Reports where the limits are counted: `propgate_rate_limit_backend_up` for memory, or for
 * Redis as the connection comes and goes, with one warning per outage (not one per reconnect
 * attempt) and one line when it is back. Returns what stops the reporting.
 */
export function reportRedisStatus(
  redis: Redis | null,
  metrics: Metrics,
  logger: Logger,
): () => void {
  if (!redis) {
    metrics.rateLimitBackendUp.set({ backend: "memory" }, 1);
    return () => {};
  }
  let down = false;
  metrics.rateLimitBackendUp.set({ backend: "redis" }, redis.status === "ready" ? 1 : 0);
  const ready = () => {
    metrics.rateLimitBackendUp.set({ backend: "redis" }, 1);
    if (down) logger.info("rate-limit redis reachable again: limits are shared once more");
    down = false;
  };
  const lost = (error?: Error) => {
    metrics.rateLimitBackendUp.set({ backend: "redis" }, 0);
    if (down) return;
    down = true;
    logger.warn(
      { err: error ? { name: error.name, message: error.message } : undefined },
      "rate-limit redis unavailable: each instance applies its local insurance limits",
    );
  };
  const closed = () => lost();
  redis.on("ready", ready).on("error", lost).on("close", closed);
  return () => {
    redis.off("ready", ready).off("error", lost).off("close", closed);
  };
}
