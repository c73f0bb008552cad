import {
  type AuditContext,
  completeKeyEnd,
  type DatabaseHandle,
  failKeyEndAttempt,
  type GuestKey,
  type SubjectRegistry,
} from "@propgate/consent-audit";
import { newId } from "@propgate/domain";
import type { Logger, Metrics } from "@propgate/observability";
import { PartnerRejectedError } from "@propgate/partner-client";
import { failureCode, type RetryBackoff, retryDelaySeconds } from "../outbox-pass.ts";
import { auditHooks, type CallAuditWriter } from "../partner-call/audit-hooks.ts";
import type { Partners } from "../partners.ts";

/** What ending a key at its partner uses (in an instance, the ones of `AppDeps`). */
export interface KeyEndServices {
  database: DatabaseHandle;
  partners: { intercom: Pick<Partners["intercom"], "keys"> };
  subjects: Pick<SubjectRegistry, "pseudonym">;
  auditWriter: CallAuditWriter;
  metrics: Pick<Metrics, "guestKeyEnds">;
  logger: Logger;
}

/** The partner no longer knows the key: nothing is left to end there. */
const gone = (error: unknown) =>
  error instanceof PartnerRejectedError && (error.status === 404 || error.status === 410);

/**
 * Sends `DELETE /v1/keys/{keyId}?subject=` (audited like every partner request, and sent whatever
 * the consent says: it stops processing) and marks the key ended once the partner confirms, or
 * says it no longer knows it. A failure stays queued with a back-off. Returns whether it ended.
 */
export async function endKeyAtPartner(
  services: KeyEndServices,
  key: GuestKey,
  audit: AuditContext,
  retry: RetryBackoff,
): Promise<boolean> {
  const { db } = services.database;
  const reason = key.endReason ?? "expired";
  // Keys are the intercom's (its panels hold the doors); a row naming another partner has
  // nothing we could end.
  if (key.partner !== "intercom") {
    services.logger.error(
      { guestKeyId: key.id, partner: key.partner },
      "guest key of no keys partner",
    );
    await completeKeyEnd(db, key.id);
    return true;
  }
  const partner = key.partner;
  try {
    await services.partners.intercom.keys.delete({
      keyId: key.partnerKeyId,
      subject: services.subjects.pseudonym(partner, key.userId),
      // The queue backs off by itself: the breaker must not hold an end back once the partner is up.
      bypassBreaker: true,
      hooks: auditHooks(services.auditWriter, audit, {
        userId: key.userId,
        purpose: "guests",
        operation: "keys.delete",
        partner,
        target: key.id,
        callId: newId("call"),
        endsProcessing: true,
      }),
    });
  } catch (error) {
    if (!gone(error)) {
      const retryInSeconds = retryDelaySeconds(key.endAttempts, retry);
      await failKeyEndAttempt(db, key.id, { errorCode: failureCode(error), retryInSeconds });
      services.metrics.guestKeyEnds.inc({ partner, reason, outcome: "retry" });
      services.logger.warn(
        { guestKeyId: key.id, partner, reason, err: error, retryInSeconds },
        "ending a guest key at the partner failed, will retry",
      );
      return false;
    }
  }
  await completeKeyEnd(db, key.id);
  services.metrics.guestKeyEnds.inc({ partner, reason, outcome: "ended" });
  services.logger.info({ guestKeyId: key.id, partner, reason }, "guest key ended");
  return true;
}
