import {
  type AuditContext,
  type DatabaseHandle,
  endVideoSession,
  failVideoEndAttempt,
  type VideoSession,
} from "@propgate/consent-audit";
import { newId, PARTNERS } from "@propgate/domain";
import type { Logger, Metrics } from "@propgate/observability";
import { failureCode, type RetryBackoff, retryDelaySeconds } from "../outbox-pass.ts";
import { auditHooks, type CallAuditWriter } from "../partner-call/audit-hooks.ts";
import type { Partners } from "../partners.ts";

/** What ending a session at its partner uses (in an instance, the ones of `AppDeps`). */
export interface VideoEndServices {
  database: DatabaseHandle;
  partners: Partners;
  auditWriter: CallAuditWriter;
  metrics: Pick<Metrics, "videoSessionEnds">;
  logger: Logger;
}

/**
 * Sends `DELETE` on the session's `Location` (audited like every partner request, and sent
 * whatever the consent says: it stops processing) and marks the session ended once the partner
 * confirms, or says it no longer knows it. A failure stays queued with a back-off. Returns
 * whether the session is ended now.
 */
export async function endAtPartner(
  services: VideoEndServices,
  session: VideoSession,
  audit: AuditContext,
  retry: RetryBackoff,
): Promise<boolean> {
  const { db } = services.database;
  const partner = PARTNERS.find((name) => name === session.partner);
  const reason = session.endReason ?? "expired";
  if (!partner || !session.partnerSessionId) {
    // Nothing the partner could end: a reservation, or a row naming no partner we know.
    await endVideoSession(db, session.id, reason);
    return true;
  }
  try {
    await services.partners[partner].video.endSession({
      sessionPath: session.sessionPath,
      partnerSessionId: session.partnerSessionId,
      // The queue backs off by itself: the breaker must not hold an end back once the partner is up.
      bypassBreaker: true,
      hooks: auditHooks(services.auditWriter, audit, {
        userId: session.userId,
        purpose: "video",
        operation: "video.end_session",
        partner,
        target: session.cameraId,
        callId: newId("call"),
        endsProcessing: true,
      }),
    });
  } catch (error) {
    const retryInSeconds = retryDelaySeconds(session.endAttempts, retry);
    await failVideoEndAttempt(db, session.id, { errorCode: failureCode(error), retryInSeconds });
    services.metrics.videoSessionEnds.inc({ partner, reason, outcome: "retry" });
    services.logger.warn(
      { videoSessionId: session.id, partner, reason, err: error, retryInSeconds },
      "ending a video session at the partner failed, will retry",
    );
    return false;
  }
  await endVideoSession(db, session.id, reason);
  services.metrics.videoSessionEnds.inc({ partner, reason, outcome: "ended" });
  services.logger.info({ videoSessionId: session.id, partner, reason }, "video session ended");
  return true;
}
