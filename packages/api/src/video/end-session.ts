import { endVideoSession, getVideoSession } from "@propgate/consent-audit";
import { PARTNERS } from "@propgate/domain";
import { SessionNotFoundError } from "../errors.ts";
import { callPartner, type PartnerCallScope } from "../partner-call/call-partner.ts";

/**
 * Ends a resident's video session at the partner. Ending stops processing, so it is sent even
 * when consent has been withdrawn since; ending an ended or expired session is a no-op.
 */
export async function endSession(call: PartnerCallScope, input: { sessionId: string }) {
  const { db } = call.deps.database;
  const session = await getVideoSession(db, input.sessionId, call.principal.userId);
  if (!session) throw new SessionNotFoundError();
  if (session.endedAt || !session.partnerSessionId) return { ended: true as const };
  if (Date.parse(session.expiresAt) <= Date.now()) {
    await endVideoSession(db, session.id, "expired");
    return { ended: true as const };
  }
  const partner = PARTNERS.find((name) => name === session.partner);
  if (!partner) throw new Error(`video session ${session.id} names an unknown partner`);
  const partnerSessionId = session.partnerSessionId;
  await callPartner(
    call,
    { own: session.cameraId, partner },
    (io) => call.deps.partners[partner].video.endSession({ partnerSessionId, hooks: io.hooks }),
    { endsProcessing: true },
  );
  await endVideoSession(db, session.id, "ended");
  return { ended: true as const };
}
