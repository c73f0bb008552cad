import type { AuditContext, AuditWriter } from "@propgate/consent-audit";
import type { Partner, PartnerOperation, PartnerPurpose } from "@propgate/domain";
import { TRACING_OFF, type Tracing } from "@propgate/observability";
import type { CallHooks } from "@propgate/partner-client";
import type { RequestTiming } from "../timing.ts";

/** What the hooks write with: `createAuditWriter` (consent-audit) in an instance. */
export type CallAuditWriter = Pick<AuditWriter, "attempt" | "result">;

/** One partner call as the audit log sees it. */
export interface AuditedCall {
  userId: string;
  purpose: PartnerPurpose;
  operation: PartnerOperation;
  partner: Partner;
  target: string;
  callId: string;
  /** Ends processing (ends a session, erases data): sent even after consent is withdrawn. */
  endsProcessing?: boolean;
}

/**
 * Invariant 1: every request sent to the partner gets its audit row first — written together
 * with a consent re-check (unless the call ends processing), so nothing is sent without both —
 * and each answer gets its row after. The writer groups the rows of concurrent calls into one
 * statement (group commit); `beforeAttempt` resumes when its row is committed, `afterAttempt`
 * at once (the answer's row follows in a later batch, retried if a batch fails).
 */
export function auditHooks(
  writer: CallAuditWriter,
  audit: AuditContext,
  call: AuditedCall,
  timing?: RequestTiming,
  tracing: Pick<Tracing, "leaf"> = TRACING_OFF,
): CallHooks {
  const { userId, purpose, operation, partner, target, callId } = call;
  let sentAt = 0;
  async function commitAttempt(attempt: number): Promise<void> {
    const row = writer.attempt(
      {
        userId,
        purpose,
        operation,
        partner,
        target,
        attempt,
        callId,
        endsProcessing: call.endsProcessing,
      },
      audit,
    );
    if (!timing) {
      await row;
      return;
    }
    await timing.audit(row);
    sentAt = performance.now();
  }
  return {
    async beforeAttempt({ attempt }) {
      // The wait for the attempt's row (and its consent re-check) in the group commit, as a span.
      await tracing.leaf("audit.commit", { "propgate.attempt": attempt }, () =>
        commitAttempt(attempt),
      );
    },
    async afterAttempt(outcome) {
      if (timing && sentAt > 0) timing.addPartner(performance.now() - sentAt);
      sentAt = 0;
      // Queued, not awaited: the answer is not held for its row (the writer retries a failure).
      writer.result(
        {
          callId,
          operation,
          partner,
          target,
          userId,
          purpose,
          attempt: outcome.attempt,
          result: outcome.outcome === "success" ? "success" : "error",
          errorCode: outcome.errorCode,
          httpStatus: outcome.httpStatus,
          latencyMs: outcome.latencyMs,
        },
        audit,
      );
    },
  };
}
