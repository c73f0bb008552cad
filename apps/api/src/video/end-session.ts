import { type AuditContext, endVideoSession, getVideoSession } from "@propgate/consent-audit";
import { newId } from "@propgate/observability";
import type { Principal } from "../auth.ts";
import type { AppDeps } from "../deps.ts";
import { auditedAttempts } from "../devices/partner-call.ts";
import { SessionNotFoundError } from "../errors.ts";

/**
 * Ends a resident's video session at the partner. Ending stops processing, so it is sent even
 * when consent has been withdrawn since; ending an ended or expired session is a no-op.
 */
export async function endSession(
  deps: AppDeps,
  principal: Principal,
  audit: AuditContext,
  input: { sessionId: string },
) {
  const { db } = deps.database;
  const session = await getVideoSession(db, input.sessionId, principal.userId);
  if (!session) throw new SessionNotFoundError();
  if (session.endedAt || !session.partnerSessionId) return { ended: true as const };
  if (Date.parse(session.expiresAt) <= Date.now()) {
    await endVideoSession(db, session.id, "expired");
    return { ended: true as const };
  }
  const scope = {
    deps,
    principal,
    audit,
    operation: "video.end_session",
    purpose: "video" as const,
  };
  const partner = session.partner === "barrier" ? "barrier" : "intercom";
  await deps.partners[partner].video.endSession({
    partnerSessionId: session.partnerSessionId,
    hooks: auditedAttempts(scope, {
      partner,
      target: session.cameraId,
      callId: newId("call"),
      endsProcessing: true,
    }),
  });
  await endVideoSession(db, session.id, "ended");
  return { ended: true as const };
}
