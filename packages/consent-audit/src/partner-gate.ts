import { PARTNER_OPERATIONS, PARTNERS, PURPOSES } from "@propgate/domain";
import { and, eq } from "drizzle-orm";
import { z } from "zod";
import { type AuditContext, contextFields, lockAuditChain, recordAuditEvent } from "./audit";
import type { Database } from "./database";
import { ConsentRequiredError } from "./errors";
import { consentCurrent } from "./schema/consent";
import { parseInput } from "./validation";

const Operation = z.enum(PARTNER_OPERATIONS);
const Opaque = z.string().min(1).max(128);

const PartnerAttemptInput = z.strictObject({
  userId: Opaque,
  purpose: z.enum(PURPOSES),
  operation: Operation,
  partner: z.enum(PARTNERS),
  target: Opaque.nullish(),
  attempt: z.number().int().min(0).max(1000),
  callId: Opaque,
  /**
   * The request stops processing (ends a video session, erases data): it must reach the partner
   * even after consent is withdrawn, so it is audited without the consent gate.
   */
  endsProcessing: z.boolean().optional(),
});
export type PartnerAttemptInput = z.input<typeof PartnerAttemptInput>;

const PartnerResultInput = z.strictObject({
  callId: Opaque,
  operation: Operation,
  partner: z.enum(PARTNERS),
  target: Opaque.nullish(),
  userId: Opaque.nullish(),
  purpose: z.enum(PURPOSES).nullish(),
  attempt: z.number().int().min(0).max(1000),
  result: z.string().regex(/^[a-z][a-z_]{0,31}$/),
  errorCode: z.string().nullish(),
  httpStatus: z.number().int().nullish(),
  latencyMs: z.number().int().min(0),
});
export type PartnerResultInput = z.input<typeof PartnerResultInput>;

/**
 * The gate before every partner request. In ONE transaction: takes the chain lock (the one
 * `revokeConsent` takes before touching the row, so the two queue in order instead of a stream
 * of readers starving the revoke), reads the consent row FOR SHARE, then appends either the
 * `partner.request` row (result "pending") or, without consent, an `access.denied` row. The
 * denial is committed, then `ConsentRequiredError` is thrown, so refusals are audited too.
 * Returns the audit event id; any database error propagates: do not call the partner.
 */
export async function recordPartnerAttempt(
  db: Database,
  input: PartnerAttemptInput,
  audit: AuditContext,
): Promise<string> {
  const attempt = parseInput(PartnerAttemptInput, input, "partner attempt");
  const outcome = await db.transaction(async (tx) => {
    await lockAuditChain(tx);
    const [consent] = await tx
      .select({ state: consentCurrent.state })
      .from(consentCurrent)
      .where(
        and(eq(consentCurrent.userId, attempt.userId), eq(consentCurrent.purpose, attempt.purpose)),
      )
      .for("share");
    const granted = consent?.state === "granted" || attempt.endsProcessing === true;
    const event = await recordAuditEvent(tx, {
      ...contextFields(audit),
      kind: granted ? "partner.request" : "access.denied",
      result: granted ? "pending" : "denied",
      errorCode: granted ? null : "CONSENT_REQUIRED",
      userId: attempt.userId,
      purpose: attempt.purpose,
      operation: attempt.operation,
      partner: attempt.partner,
      target: attempt.target ?? null,
      attempt: attempt.attempt,
      callId: attempt.callId,
    });
    return { granted, eventId: event.id };
  });
  if (!outcome.granted) throw new ConsentRequiredError(attempt.purpose, outcome.eventId);
  return outcome.eventId;
}

/** The audit's code format; anything else a partner sent becomes `http_<status>`. */
const AUDIT_CODE = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * Appends the `partner.response` row that closes a `partner.request` (same `callId`). The
 * partner's answer can never stop its row: a code outside the audit's format is normalised.
 */
export async function recordPartnerResult(
  db: Database,
  input: PartnerResultInput,
  audit: AuditContext,
): Promise<string> {
  const result = parseInput(PartnerResultInput, input, "partner result");
  const event = await recordAuditEvent(db, {
    ...contextFields(audit),
    kind: "partner.response",
    result: result.result,
    errorCode:
      result.errorCode == null || AUDIT_CODE.test(result.errorCode)
        ? (result.errorCode ?? null)
        : `http_${result.httpStatus ?? "unknown"}`,
    httpStatus: result.httpStatus ?? null,
    latencyMs: result.latencyMs,
    userId: result.userId ?? null,
    purpose: result.purpose ?? null,
    operation: result.operation,
    partner: result.partner,
    target: result.target ?? null,
    attempt: result.attempt,
    callId: result.callId,
  });
  return event.id;
}

const DeniedInput = z.strictObject({
  errorCode: z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/),
  userId: Opaque.nullish(),
  operation: Operation.nullish(),
  partner: z.enum(PARTNERS).nullish(),
  purpose: z.enum(PURPOSES).nullish(),
  target: Opaque.nullish(),
});
export type DeniedInput = z.input<typeof DeniedInput>;

/** Appends an `access.denied` row (e.g. `FORBIDDEN_DEVICE`, `RATE_LIMITED`, `BLOCKED`). */
export async function recordDenied(
  db: Database,
  input: DeniedInput,
  audit: AuditContext,
): Promise<string> {
  const denied = parseInput(DeniedInput, input, "access denial");
  const event = await recordAuditEvent(db, {
    ...contextFields(audit),
    kind: "access.denied",
    result: "denied",
    errorCode: denied.errorCode,
    userId: denied.userId ?? null,
    operation: denied.operation ?? null,
    partner: denied.partner ?? null,
    purpose: denied.purpose ?? null,
    target: denied.target ?? null,
  });
  return event.id;
}
