import {
  type AuditContext,
  claimDueVideoEnds,
  countEndingVideoSessions,
  endStaleReservations,
  requestEndOfMovedCameraSessions,
} from "@propgate/consent-audit";
import type { AppDeps } from "../deps.ts";
import { type PeriodicPass, startPeriodicPass } from "../outbox-pass.ts";
import { type EndRetry, endAtPartner } from "./end-at-partner.ts";

export interface VideoEndWorkerOptions extends EndRetry {
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
export function startVideoEndWorker(deps: AppDeps, options: VideoEndWorkerOptions): VideoEndWorker {
  const { db } = deps.database;
  const audit: AuditContext = {
    sourceApp: "api",
    instanceId: deps.instanceId,
    actor: "video-end-worker",
  };
  async function pass(): Promise<number> {
    await requestEndOfMovedCameraSessions(db);
    await endStaleReservations(db);
    const due = await claimDueVideoEnds(db, { limit: options.batch, leaseSeconds: 30 });
    // One at a time per partner would be kinder, but a handful of DELETEs at once is nothing.
    await Promise.all(due.map((session) => endAtPartner(deps, session, audit, options)));
    deps.metrics.videoSessionsEnding.set(await countEndingVideoSessions(db));
    return due.length;
  }

  // A revocation's wake-up during a pass must not wait for the next tick.
  return startPeriodicPass(
    pass,
    options.intervalMs,
    (error) => deps.logger.error({ err: error }, "video end pass failed"),
    true,
  );
}
