import {
  type AppDeps,
  startErasureWorker,
  startEventsWebhookWorker,
  startJournalPruner,
  startKeyEndWorker,
  startRetentionWatch,
  startVideoEndWorker,
} from "@propgate/api";
import {
  ConsentRequiredError,
  createConsentBus,
  createResidentEventBus,
} from "@propgate/consent-audit";
import type { ApiEnv } from "./env.ts";

export interface Background {
  /** One outbox pass now; tests use it instead of waiting for the timer. */
  runErasuresOnce(): Promise<number>;
  /** One pass of the video end queue now. */
  runVideoEndsOnce(): Promise<number>;
  /** One pass of the guest key end queue now. */
  runKeyEndsOnce(): Promise<number>;
  /** One pass of the webhook outbox now; 0 when the relay is off. */
  runWebhooksOnce(): Promise<number>;
  /** One journal retention pass now: entries deleted. */
  runJournalPruneOnce(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * What an api instance runs besides serving requests: the consent bus (a revocation anywhere
 * abandons this instance's calls for that resident and purpose at once, and a revocation of
 * `journal` ends their event streams), the resident event bus (a journal entry committed on any
 * instance wakes this one's event streams for that resident, and the webhook relay), the erasure
 * worker, the video end queue (sessions a revocation, a camera move or their lifetime ends), the
 * guest key end queue (keys a revocation, a block, a lost site or a moved door ends), the
 * journal's hourly retention pass, the watch on the daily retention job's last run and, when `EVENTS_WEBHOOK_URL` is set, the webhook relay.
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
  const keyEnds = startKeyEndWorker(deps, {
    instanceId,
    intervalMs: env.GUEST_KEY_END_INTERVAL_MS,
    batch: 50,
    baseRetrySeconds: env.GUEST_KEY_END_RETRY_BASE_SECONDS,
    maxRetrySeconds: env.GUEST_KEY_END_RETRY_MAX_SECONDS,
  });
  const wakeKeyEnds = () =>
    keyEnds
      .runOnce()
      .catch((error) => deps.logger.error({ err: error }, "guest key end pass failed"));
  // Started last (after the buses, which may fail); a notice before it only misses a wake-up.
  let webhooks: ReturnType<typeof startWebhookRelay> = null;
  const { hub } = deps.journalEvents;
  const journalRevoked = () => new ConsentRequiredError("journal", "");
  // After a missed consent notice: a resident whose `journal` grant is gone loses their streams.
  const endUnconsentedStreams = async () => {
    for (const userId of hub.residents()) {
      if (!(await deps.journalEvents.consented(userId))) hub.endResident(userId, journalRevoked());
    }
  };
  // Started before the api serves: no stream opens that a journal entry would not wake.
  const residentEvents = await createResidentEventBus(deps.database, {
    onEvent(notice) {
      hub.notify(notice);
      webhooks?.wake();
    },
    onReconnect() {
      // Entries committed meanwhile were not announced: every open stream reads after its last.
      hub.resync();
      webhooks?.wake();
      deps.logger.warn("resident event bus reconnected; open event streams read the journal again");
    },
    onError(error) {
      deps.logger.warn({ err: error }, "resident event bus problem");
    },
  });
  const bus = await createConsentBus(deps.database, {
    onChange(change) {
      deps.consents.changed(change);
      if (change.state === "granted") return;
      deps.metrics.consentRevocations.inc({ purpose: change.purpose });
      // The revoking transaction erased the journal; its open streams end now, on every instance.
      if (change.purpose === "journal") hub.endResident(change.userId, journalRevoked());
      // The revoking transaction queued the resident's sessions: end them now, not at the tick.
      if (change.purpose === "video") void wakeVideoEnds();
      // Likewise the resident's guest keys: the partner deletes them now.
      if (change.purpose === "guests") void wakeKeyEnds();
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
      void endUnconsentedStreams().catch((error) =>
        deps.logger.error({ err: error }, "re-checking event streams' journal consent failed"),
      );
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
    deadlineSeconds: env.ERASURE_DEADLINE_DAYS * 86_400,
    pollSeconds: env.ERASURE_POLL_SECONDS,
  });
  webhooks = startWebhookRelay(deps);
  const pruner = startJournalPruner(deps, {
    retentionDays: env.JOURNAL_RETENTION_DAYS,
    intervalMs: 3_600_000,
  });
  // Five minutes: the alert allows two days, and each read is one indexed row.
  const retention = startRetentionWatch(deps, { intervalMs: 300_000 });
  return {
    runErasuresOnce: () => worker.runOnce(),
    runVideoEndsOnce: () => videoEnds.runOnce(),
    runKeyEndsOnce: () => keyEnds.runOnce(),
    runWebhooksOnce: () => webhooks?.worker.runOnce() ?? Promise.resolve(0),
    runJournalPruneOnce: () => pruner.runOnce(),
    async stop() {
      await retention.stop();
      await pruner.stop();
      await residentEvents.close();
      await webhooks?.worker.stop();
      await worker.stop();
      await videoEnds.stop();
      await keyEnds.stop();
      await bus.close();
    },
  };
}

/**
 * The webhook worker, and `wake` to run its pass as soon as a journal entry commits on any
 * instance (the resident event bus): a `call.incoming` goes out at once, not at the next tick
 * (SKIP LOCKED lets one instance take each message). Null when the relay is off.
 */
function startWebhookRelay(deps: AppDeps) {
  const settings = deps.settings.eventsWebhook;
  if (settings === null) return null;
  const worker = startEventsWebhookWorker(deps, { ...settings, batch: 50 });
  const wake = () =>
    void worker
      .runOnce()
      .catch((error) => deps.logger.error({ err: error }, "webhook pass failed"));
  return { worker, wake };
}
