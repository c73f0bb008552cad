import type { Logger, Metrics } from "@propgate/observability";
import {
  type CheckStatus,
  needsNotice,
  nextStatus,
  postWebhook,
  type Transition,
  webhookPayload,
} from "./alerts.ts";
import type { PartnerProbe, ProbeCheck } from "./partner-probe.ts";

/** Where the checks' state lives between rounds and restarts (PostgreSQL in production). */
export interface StatusStore {
  load(): Promise<CheckStatus[]>;
  /** The statuses now and the transitions since the last save, in one transaction. */
  save(statuses: readonly CheckStatus[], transitions: readonly Transition[]): Promise<void>;
}

export interface ProbeLoopOptions {
  probes: readonly PartnerProbe[];
  store: StatusStore;
  metrics: Metrics;
  logger: Logger;
  failuresToAlert: number;
  webhookUrl: URL | null;
  webhookTimeoutMs: number;
}

export interface ProbeLoop {
  /** One round: every partner probed, metrics set, state saved, webhooks sent. */
  round(): Promise<void>;
  start(intervalMs: number): void;
  stop(): Promise<void>;
}

/** Transitions kept while the store is away; older ones are dropped (and said so). */
const MAX_PENDING_TRANSITIONS = 10_000;

export function createProbeLoop(options: ProbeLoopOptions): ProbeLoop {
  const { metrics, logger } = options;
  const statuses = new Map<string, CheckStatus>();
  const key = (partner: string, check: ProbeCheck) => `${partner}\u0000${check}`;
  let pending: Transition[] = [];
  // Until the store has been read, nothing is notified: a restart must not repeat a notice the
  // webhook already has, and one held back is sent once the store answers (never lost).
  let loaded = false;
  let timer: ReturnType<typeof setInterval> | undefined;
  let running: Promise<void> | null = null;

  async function load() {
    if (loaded) return;
    const stored = await options.store.load();
    for (const status of stored) {
      const current = statuses.get(key(status.partner, status.check));
      // What was notified comes from the store; what was seen since start stays.
      statuses.set(
        key(status.partner, status.check),
        current ? { ...current, notified: status.notified } : status,
      );
    }
    loaded = true;
  }

  function statusOf(partner: string, check: ProbeCheck, now: Date): CheckStatus {
    return (
      statuses.get(key(partner, check)) ?? {
        partner,
        check,
        state: "ok",
        consecutiveFailures: 0,
        lastError: null,
        since: now,
        notified: null,
      }
    );
  }

  async function round() {
    // The stored state first, so a restart carries on from it (counts, since, what was notified).
    const readable = await load().then(
      () => true,
      (error: unknown) => {
        logger.warn({ err: error }, "probe state not readable yet: notifications wait for it");
        return false;
      },
    );
    const results = await Promise.all(options.probes.map((probe) => probe.run()));
    const now = new Date();
    for (const { partner, results: checks, certExpirySeconds } of results) {
      if (certExpirySeconds !== null) metrics.probeCertExpiry.set({ partner }, certExpirySeconds);
      for (const result of checks) {
        metrics.probeSuccess.set({ partner, check: result.check }, result.ok ? 1 : 0);
        metrics.probeDuration.set({ partner, check: result.check }, result.seconds);
        const { status, transition } = nextStatus(
          statusOf(partner, result.check, now),
          result,
          options.failuresToAlert,
          now,
        );
        statuses.set(key(partner, result.check), status);
        if (transition) {
          pending.push(transition);
          logger.info(
            {
              partner,
              check: result.check,
              from: transition.from,
              to: transition.to,
              error: result.error,
            },
            "partner check changed",
          );
        }
      }
    }
    if (pending.length > MAX_PENDING_TRANSITIONS) {
      logger.warn(
        { dropped: pending.length - MAX_PENDING_TRANSITIONS },
        "probe history dropped while the database was away",
      );
      pending = pending.slice(-MAX_PENDING_TRANSITIONS);
    }
    if (!readable) return;
    if (options.webhookUrl) {
      for (const status of statuses.values()) {
        if (!needsNotice(status)) continue;
        const payload = webhookPayload(status, now);
        if (await postWebhook(options.webhookUrl, payload, options.webhookTimeoutMs, logger)) {
          status.notified = payload.status === "firing" ? "firing" : "resolved";
          logger.info(
            { partner: status.partner, check: status.check, status: payload.status },
            "alert sent",
          );
        }
      }
    }
    const saving = pending;
    try {
      await options.store.save([...statuses.values()], saving);
      pending = pending.slice(saving.length);
    } catch (error) {
      logger.warn(
        { err: error, pending: pending.length },
        "probe state not saved: kept for the next round",
      );
    }
  }

  function once(): Promise<void> {
    running ??= round()
      .catch((error) => logger.error({ err: error }, "probe round failed"))
      .finally(() => {
        running = null;
      });
    return running;
  }

  return {
    round: once,
    start(intervalMs) {
      void once();
      timer = setInterval(() => void once(), intervalMs);
    },
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
