import {
  type AuditContext,
  claimDueVideoEnds,
  countEndingVideoSessions,
  endStaleReservations,
  requestEndOfMovedCameraSessions,
} from "@propgate/consent-audit";
import type { AppDeps } from "../deps.ts";
import { type EndRetry, endAtPartner } from "./end-at-partner.ts";

export interface VideoEndWorkerOptions extends EndRetry {
  /** How often the queue is looked at (a revocation on this instance's bus wakes it at once). */
  intervalMs: number;
  /** Sessions ended per pass. */
  batch: number;
}

export interface VideoEndWorker {
  /** Runs one pass now (tests, and a revocation); resolves when the pass is done. */
  runOnce(): Promise<number>;
  stop(): Promise<void>;
}

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
  let running: Promise<number> | null = null;
  let again = false;
  let stopped = false;

  async function pass(): Promise<number> {
    await requestEndOfMovedCameraSessions(db);
    await endStaleReservations(db);
    const due = await claimDueVideoEnds(db, { limit: options.batch, leaseSeconds: 30 });
    // One at a time per partner would be kinder, but a handful of DELETEs at once is nothing.
    await Promise.all(due.map((session) => endAtPartner(deps, session, audit, options)));
    deps.metrics.videoSessionsEnding.set(await countEndingVideoSessions(db));
    return due.length;
  }

  function runOnce(): Promise<number> {
    if (running) {
      // A wake-up during a pass runs one more pass after it, so nothing queued meanwhile waits.
      again = true;
      return running;
    }
    running = pass().finally(() => {
      running = null;
      if (again && !stopped) {
        again = false;
        void runOnce().catch(report);
      }
    });
    return running;
  }

  function report(error: unknown) {
    deps.logger.error({ err: error }, "video end pass failed");
  }

  const timer = setInterval(() => {
    if (!stopped) runOnce().catch(report);
  }, options.intervalMs);

  return {
    runOnce,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running?.catch(() => {});
    },
  };
}
