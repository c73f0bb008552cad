import { type AppDeps, startErasureWorker, startVideoEndWorker } from "@propgate/api";
import { createConsentBus } from "@propgate/consent-audit";
import type { ApiEnv } from "./env.ts";

export interface Background {
  /** One outbox pass now; tests use it instead of waiting for the timer. */
  runErasuresOnce(): Promise<number>;
  /** One pass of the video end queue now. */
  runVideoEndsOnce(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * What an api instance runs besides serving requests: the consent bus (a revocation anywhere
 * abandons this instance's calls for that resident and purpose at once), the erasure worker and
 * the video end queue (sessions a revocation, a camera move or their lifetime ends).
 */
export async function startBackground(deps: AppDeps, env: ApiEnv): Promise<Background> {
  const { instanceId } = deps.settings;
  const videoEnds = startVideoEndWorker(deps, {
    instanceId,
    intervalMs: env.VIDEO_END_INTERVAL_MS,
    batch: 50,
    ...deps.settings.video.endRetry,
  });
  const wakeVideoEnds = () =>
    videoEnds
      .runOnce()
      .catch((error) => deps.logger.error({ err: error }, "video end pass failed"));
  const bus = await createConsentBus(deps.database, {
    onChange(change) {
      deps.consents.changed(change);
      if (change.state === "granted") return;
      deps.metrics.consentRevocations.inc({ purpose: change.purpose });
      // The revoking transaction queued the resident's sessions: end them now, not at the tick.
      if (change.purpose === "video") void wakeVideoEnds();
      const abandoned = deps.inflight.abort(change.userId, change.purpose);
      if (abandoned > 0)
        deps.logger.info(
          { purpose: change.purpose, abandoned },
          "revocation abandoned calls in flight",
        );
    },
    onReconnect() {
      // Only the early consent answer is cached (the attempt's gate reads the row itself), so
      // a missed notification costs that cache and the early abandonment of calls in flight.
      deps.consents.clear();
      deps.metrics.consentBusReconnects.inc();
      deps.logger.warn("consent bus reconnected; notifications in between were missed");
    },
    onError(error) {
      deps.logger.warn({ err: error }, "consent bus problem");
    },
  });
  const worker = startErasureWorker(deps, {
    instanceId,
    intervalMs: env.ERASURE_INTERVAL_MS,
    batch: 20,
    baseRetrySeconds: env.ERASURE_RETRY_BASE_SECONDS,
    maxRetrySeconds: env.ERASURE_RETRY_MAX_SECONDS,
    overdueSeconds: env.ERASURE_OVERDUE_SECONDS,
  });
  return {
    runErasuresOnce: () => worker.runOnce(),
    runVideoEndsOnce: () => videoEnds.runOnce(),
    async stop() {
      await worker.stop();
      await videoEnds.stop();
      await bus.close();
    },
  };
}
