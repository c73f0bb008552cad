import {
  claimDueWebhooks,
  type DatabaseHandle,
  failWebhookAttempt,
  markWebhooksDelivered,
  type WebhookMessage,
  webhookOutboxStats,
} from "@propgate/consent-audit";
import type { Logger, Metrics, Tracing } from "@propgate/observability";
import { type PeriodicPass, retryDelaySeconds, startPeriodicPass } from "../outbox-pass.ts";
import type { EventsWebhookSettings } from "../settings.ts";
import { createWebhookDelivery, type Deliver } from "./deliver.ts";

/** What the webhook worker uses (in an instance, the ones of `AppDeps`). */
export interface EventsWebhookWorkerServices {
  database: DatabaseHandle;
  metrics: Pick<
    Metrics,
    | "eventsWebhookDeliveries"
    | "eventsWebhookPending"
    | "eventsWebhookOldestPending"
    | "eventsWebhookOverdue"
  >;
  logger: Logger;
  /** A span per delivery attempt, its `traceparent` on the request; off when absent. */
  tracing?: Tracing;
}

export interface EventsWebhookWorkerOptions extends EventsWebhookSettings {
  /** Messages claimed at once (each of another resident, sent side by side). */
  batch: number;
  /** The sender; tests may pass their own, an instance takes `createWebhookDelivery`. */
  deliver?: Deliver;
}

/** `runOnce` runs a pass now: after a `call.incoming` is queued, on shutdown, in tests. */
export type EventsWebhookWorker = PeriodicPass;

// Claims per pass before the metrics are refreshed and the timer takes over again.
const MAX_ROUNDS_PER_PASS = 50;

/** `http_503` → `http_5xx`: the metric's label stays a short list. */
function resultLabel(code: string): string {
  return /^http_\d{3}$/.test(code) ? `http_${code[5]}xx` : code;
}

/**
 * Relays queued resident events to tenant-core until each is answered 2xx, with back-off between
 * attempts. Rows are leased, so several api instances share the outbox without sending one
 * message at once; a crash only delays a message until its lease ends (it may then arrive twice,
 * under the same `webhook-id`, which the receiver drops). A delivered message is never sent again.
 */
export function startEventsWebhookWorker(
  services: EventsWebhookWorkerServices,
  options: EventsWebhookWorkerOptions,
): EventsWebhookWorker {
  const { db } = services.database;
  const deliver = options.deliver ?? createWebhookDelivery(options, services.tracing);
  // Longer than one delivery can take, so a live worker's claim does not run out under it.
  const leaseSeconds = Math.ceil(options.timeoutMs / 1000) + 30;

  /** Sends one message; true when tenant-core took it (marked with the round's, in `pass`). */
  async function send(message: WebhookMessage): Promise<boolean> {
    const outcome = await deliver(message);
    if (outcome.delivered) return true;
    const retryInSeconds = retryDelaySeconds(message.attempts, options.retry);
    await failWebhookAttempt(db, message.seq, { errorCode: outcome.code, retryInSeconds });
    services.metrics.eventsWebhookDeliveries.inc({ result: resultLabel(outcome.code) });
    services.logger.warn(
      {
        webhookId: message.id,
        eventType: message.eventType,
        code: outcome.code,
        attempts: message.attempts + 1,
        retryInSeconds,
      },
      "webhook delivery failed, will retry",
    );
    return false;
  }

  async function pass(): Promise<number> {
    let sent = 0;
    // Each claim takes the oldest pending message of each resident: claim again until none is due.
    for (let round = 0; round < MAX_ROUNDS_PER_PASS; round++) {
      const due = await claimDueWebhooks(db, {
        limit: options.batch,
        leaseSeconds,
        orderHoldSeconds: options.orderHoldSeconds,
      });
      if (due.length === 0) break;
      const taken = await Promise.all(due.map(send));
      // The round's deliveries marked in one statement, not a commit each. A crash before it
      // only sends them again when their lease ends, under the same `webhook-id`.
      const delivered = due.filter((_, i) => taken[i]).map((message) => message.seq);
      await markWebhooksDelivered(db, delivered);
      if (delivered.length > 0)
        services.metrics.eventsWebhookDeliveries.inc({ result: "delivered" }, delivered.length);
      sent += due.length;
    }
    const stats = await webhookOutboxStats(db, { overdueSeconds: options.overdueSeconds });
    services.metrics.eventsWebhookPending.set(stats.pending);
    services.metrics.eventsWebhookOldestPending.set(stats.oldestPendingSeconds);
    services.metrics.eventsWebhookOverdue.set(stats.overdue);
    return sent;
  }

  return startPeriodicPass(
    pass,
    options.intervalMs,
    (error) => services.logger.error({ err: error }, "webhook pass failed"),
    true,
  );
}
