import { type DatabaseHandle, lastRetentionRun } from "@propgate/consent-audit";
import type { Logger, Metrics } from "@propgate/observability";
import { type PeriodicPass, startPeriodicPass } from "../outbox-pass.ts";

/**
 * Exports when the retention job (`propgate retention run`, a CLI with nothing to push to) last
 * succeeded, read from its `retention.run` audit row every `intervalMs`: 0 when it never did, so
 * the alert `PropgateRetentionNotRun` fires on a deployment whose job was never scheduled.
 */
export function startRetentionWatch(
  services: {
    database: DatabaseHandle;
    metrics: Pick<Metrics, "retentionLastRun">;
    logger: Logger;
  },
  options: { intervalMs: number },
): PeriodicPass {
  const pass = async (): Promise<number> => {
    const at = await lastRetentionRun(services.database.db);
    const seconds = at ? Math.floor(at.getTime() / 1000) : 0;
    services.metrics.retentionLastRun.set(seconds);
    return seconds;
  };
  const watch = startPeriodicPass(pass, options.intervalMs, (error) =>
    services.logger.error({ err: error }, "reading the last retention run failed"),
  );
  void watch.runOnce().catch(() => undefined);
  return watch;
}
