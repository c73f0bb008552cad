import { getVideoSession, requestVideoSessionEnd } from "@propgate/consent-audit";
import { SessionNotFoundError } from "../errors.ts";
import type { RetryBackoff } from "../outbox-pass.ts";
import type { PartnerCallScope } from "../partner-call/call-partner.ts";
import { endAtPartner, type VideoEndServices } from "./end-at-partner.ts";

/**
 * Ends a resident's video session: queued first (so it ends even if the partner is down now),
 * then sent at once. Ending stops processing, so it is sent even when consent has been
 * withdrawn since; ending an ended session is a no-op. `ended: false` means the partner has
 * not confirmed yet: the end queue keeps trying, and the session is no longer listed.
 */
export async function endSession(
  call: PartnerCallScope,
  services: VideoEndServices,
  retry: RetryBackoff,
  input: { sessionId: string },
) {
  const { principal } = call;
  const { db } = services.database;
  const existing = await getVideoSession(db, input.sessionId, principal.userId);
  if (!existing) throw new SessionNotFoundError();
  if (existing.state === "ended") return { ended: true };
  await requestVideoSessionEnd(db, existing.id, principal.userId);
  const session = await getVideoSession(db, existing.id, principal.userId);
  if (!session || session.state === "ended") return { ended: true };
  const ended = await endAtPartner(services, session, call.audit, retry);
  return { ended };
}
