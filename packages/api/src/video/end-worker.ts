import {
  type AuditContext,
  claimDueVideoEnds,
  countEndingVideoSessions,
  endStaleReservations,
  requestEndOfMovedCameraSessions,
} from "@propgate/consent-audit";
import type { Metrics } from "@propgate/observability";
import { type PeriodicPass, type RetryBackoff, startPeriodicPass } from "../outbox-pass.ts";
import { endAtPartner, type VideoEndServices } from "./end-at-partner.ts";

/** What the end queue uses: ending at the partner's, and the gauge of sessions being ended. */
export interface VideoEndWorkerServices extends VideoEndServices {
  metrics: Pick<Metrics, "videoSessionEnds" | "videoSessionsEnding">;
}

export interface VideoEndWorkerOptions extends RetryBackoff {
  /** Names this instance on the audit rows of the `DELETE`s. */
  instanceId: string;
  /** How often the queue is looked at (a revocation on this instance's bus wakes it at once). */
  intervalMs: number;
  /** Sessions ended per pass. */
  batch: number;
}

/** `runOnce` runs one pass now (tests, and a revocation). */
export type VideoEndWorker = PeriodicPass;

/**
 * Ends video sessions at the partner that must no longer run: queued by a revocation of `video`
 * consent (in the revoking transaction), by the resident, by a camera leaving the sites (found
 * here on every pass: a camera removed from the registry or moved), or past their lifetime.
 * Rows are leased, so instances share the queue; a failed `DELETE` is retried with back-off
 * until the partner confirms, so a partner that is down at the revocation is caught up with.
 */
export function startVideoEndWorker(
  services: VideoEndWorkerServices,
  options: VideoEndWorkerOptions,
): VideoEndWorker {
  const { db } = services.database;
  const audit: AuditContext = {
    sourceApp: "api",
    instanceId: options.instanceId,
    actor: "video-end-worker",
  };
  async function pass(): Promise<number> {
    await requestEndOfMovedCameraSessions(db);
    await endStaleReservations(db);
    const due = await claimDueVideoEnds(db, { limit: options.batch, leaseSeconds: 30 });
    // One at a time per partner would be kinder, but a handful of DELETEs at once is nothing.
    await Promise.all(due.map((session) => endAtPartner(services, session, audit, options)));
    services.metrics.videoSessionsEnding.set(await countEndingVideoSessions(db));
    return due.length;
  }

  // A revocation's wake-up during a pass must not wait for the next tick.
  return startPeriodicPass(
    pass,
    options.intervalMs,
    (error) => services.logger.error({ err: error }, "video end pass failed"),
    true,
  );
}
