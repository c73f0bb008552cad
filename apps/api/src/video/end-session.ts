import { type AuditContext, endVideoSession, getVideoSession } from "@propgate/consent-audit";
import type { Principal } from "../auth.ts";
import type { AppDeps } from "../deps.ts";
import { partnerCall } from "../devices/partner-call.ts";
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
  const partnerSessionId = session.partnerSessionId;
  await partnerCall(
    scope,
    { partner, target: session.cameraId, endsProcessing: true },
    ({ hooks }) => deps.partners[partner].video.endSession({ partnerSessionId, hooks }),
  );
  await endVideoSession(db, session.id, "ended");
  return { ended: true as const };
}
