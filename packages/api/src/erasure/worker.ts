import {
  type AuditContext,
  claimDueErasurePolls,
  claimDueErasures,
  completeErasure,
  countOverdueErasures,
  countPendingErasures,
  type DatabaseHandle,
  type ErasureRequest,
  failErasureAttempt,
  finishAcceptedErasure,
  markOverdueErasures,
  type SubjectRegistry,
  scheduleErasurePoll,
} from "@propgate/consent-audit";
import { newId } from "@propgate/domain";
import type { Logger, Metrics } from "@propgate/observability";
import {
  failureCode,
  type PeriodicPass,
  type RetryBackoff,
  retryDelaySeconds,
  startPeriodicPass,
} from "../outbox-pass.ts";
import { auditHooks, type CallAuditWriter } from "../partner-call/audit-hooks.ts";
import type { Partners } from "../partners.ts";

/** What the erasure worker uses (in an instance, the ones of `AppDeps`). */
export interface ErasureWorkerServices {
  database: DatabaseHandle;
  partners: Partners;
  subjects: Pick<SubjectRegistry, "pseudonym">;
  auditWriter: CallAuditWriter;
  metrics: Pick<Metrics, "erasures" | "erasuresPending" | "erasuresOverdue">;
  logger: Logger;
}

export interface ErasureWorkerOptions extends RetryBackoff {
  /** Names this instance on the audit rows of the erasures. */
  instanceId: string;
  /** How often the outbox is looked at. */
  intervalMs: number;
  /** Requests sent per tick. */
  batch: number;
  /** A pending erasure older than this raises the overdue alert metric. */
  overdueSeconds: number;
  /**
   * ERASURE_DEADLINE_DAYS in seconds: a request the partner has not confirmed done this long
   * after it was made is marked overdue (the admin list shows it, the alert fires).
   */
  deadlineSeconds: number;
  /** Wait between status polls of an accepted erasure when the partner gives no Retry-After. */
  pollSeconds: number;
  /** The clock the deadline is judged by (tests simulate one); default: the system's. */
  now?: () => Date;
}

/** `runOnce` runs one pass now (tests and shutdown use it). */
export type ErasureWorker = PeriodicPass;

/**
 * Sends queued erasures (`DELETE /v1/subjects/{subject}`) until each partner acknowledges,
 * with back-off between attempts. Rows are leased, so several api instances share the outbox
 * without sending the same request twice at once; a crash only delays a request until its lease
 * ends. Completion is audited as a record fit to back an act of destruction.
 */
export function startErasureWorker(
  services: ErasureWorkerServices,
  options: ErasureWorkerOptions,
): ErasureWorker {
  const { db } = services.database;
  const audit: AuditContext = {
    sourceApp: "api",
    instanceId: options.instanceId,
    actor: "erasure-worker",
  };
  async function send(request: ErasureRequest): Promise<void> {
    const runtime = services.partners[request.partner];
    const target = request.categories.join(",");
    try {
      const answer = await runtime.subjects.erase({
        subject: services.subjects.pseudonym(request.partner, request.userId),
        categories: request.categories,
        hooks: auditHooks(services.auditWriter, audit, {
          userId: request.userId,
          purpose: request.categories[0] ?? "faces",
          operation: "subjects.erase",
          partner: request.partner,
          target,
          callId: newId("call"),
          endsProcessing: true,
        }),
      });
      // 200 or 204: done; 202: the partner took it and erases later, and is asked until done.
      const status = answer.state;
      await completeErasure(db, request.id, {
        erased: answer.state === "done" ? answer.erased : null,
        status,
        pollInSeconds: options.pollSeconds,
        audit,
      });
      services.metrics.erasures.inc({ partner: request.partner, outcome: status });
      services.logger.info(
        { erasureId: request.id, partner: request.partner, categories: target, status },
        status === "done" ? "erasure acknowledged" : "erasure accepted by the partner",
      );
    } catch (error) {
      const retryInSeconds = retryDelaySeconds(request.attempts, options);
      await failErasureAttempt(db, request.id, { errorCode: failureCode(error), retryInSeconds });
      services.metrics.erasures.inc({ partner: request.partner, outcome: "retry" });
      services.logger.warn(
        { erasureId: request.id, partner: request.partner, err: error, retryInSeconds },
        "erasure failed, will retry",
      );
    }
  }

  /** Asks the partner where an accepted erasure stands: done → recorded; pending → later. */
  async function poll(request: ErasureRequest): Promise<void> {
    const runtime = services.partners[request.partner];
    try {
      const answer = await runtime.subjects.erasureStatus({
        subject: services.subjects.pseudonym(request.partner, request.userId),
        hooks: auditHooks(services.auditWriter, audit, {
          userId: request.userId,
          purpose: request.categories[0] ?? "faces",
          operation: "subjects.erasure_status",
          partner: request.partner,
          target: request.categories.join(","),
          callId: newId("call"),
          // Part of ending the processing: the consent is revoked by now.
          endsProcessing: true,
        }),
      });
      if (answer.state === "done") {
        await finishAcceptedErasure(db, request.id, {
          completedAt: answer.completedAt === null ? null : new Date(answer.completedAt),
          audit,
        });
        services.metrics.erasures.inc({ partner: request.partner, outcome: "done" });
        services.logger.info(
          { erasureId: request.id, partner: request.partner },
          "accepted erasure confirmed done by the partner",
        );
        return;
      }
      // Its Retry-After when it gave one (within our back-off's bounds), else our poll interval.
      const retryInSeconds = Math.min(
        options.maxRetrySeconds,
        Math.max(0, answer.retryAfterSeconds ?? options.pollSeconds),
      );
      await scheduleErasurePoll(db, request.id, { retryInSeconds });
      services.metrics.erasures.inc({ partner: request.partner, outcome: "poll_pending" });
    } catch (error) {
      const retryInSeconds = retryDelaySeconds(request.attempts, options);
      await failErasureAttempt(db, request.id, { errorCode: failureCode(error), retryInSeconds });
      services.metrics.erasures.inc({ partner: request.partner, outcome: "retry" });
      services.logger.warn(
        { erasureId: request.id, partner: request.partner, err: error, retryInSeconds },
        "erasure status poll failed, will retry",
      );
    }
  }

  async function pass(): Promise<number> {
    const due = await claimDueErasures(db, { limit: options.batch, leaseSeconds: 60 });
    for (const request of due) await send(request);
    const polls = await claimDueErasurePolls(db, { limit: options.batch, leaseSeconds: 60 });
    for (const request of polls) await poll(request);
    const overdue = await markOverdueErasures(db, {
      deadlineSeconds: options.deadlineSeconds,
      now: (options.now ?? (() => new Date()))(),
      audit,
    });
    for (const request of overdue) {
      services.logger.error(
        { erasureId: request.id, partner: request.partner, status: request.status },
        "erasure not confirmed by the partner within the deadline",
      );
    }
    services.metrics.erasuresPending.set(await countPendingErasures(db));
    services.metrics.erasuresOverdue.set(
      await countOverdueErasures(db, { olderThanSeconds: options.overdueSeconds }),
    );
    return due.length + polls.length;
  }

  return startPeriodicPass(pass, options.intervalMs, (error) =>
    services.logger.error({ err: error }, "erasure pass failed"),
  );
}
