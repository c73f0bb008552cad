import { PARTNER_OPERATIONS, PARTNER_PURPOSES, PARTNERS, PURPOSES } from "@propgate/domain";
import { and, eq, or } from "drizzle-orm";
import { z } from "zod";
import {
  type AuditContext,
  type AuditEventInput,
  contextFields,
  lockAuditChain,
  recordAuditEvent,
} from "./audit";
import type { Database } from "./database";
import { ConsentRequiredError } from "./errors";
import type { Purpose } from "./purposes";
import { consentCurrent } from "./schema/consent";
import { hasOnlyKeys, isIntIn, isText, parseInput } from "./validation";

const Operation = z.enum(PARTNER_OPERATIONS);
const Opaque = z.string().min(1).max(128);
const RESULT_WORD = /^[a-z][a-z_]{0,31}$/;

const PartnerAttemptInput = z.strictObject({
  userId: Opaque,
  purpose: z.enum(PARTNER_PURPOSES),
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
  purpose: z.enum(PARTNER_PURPOSES).nullish(),
  attempt: z.number().int().min(0).max(1000),
  result: z.string().regex(RESULT_WORD),
  errorCode: z.string().nullish(),
  httpStatus: z.number().int().min(100).max(599).nullish(),
  latencyMs: z.number().int().min(0).max(86_400_000),
});
export type PartnerResultInput = z.input<typeof PartnerResultInput>;

const PURPOSE_SET: ReadonlySet<unknown> = new Set(PARTNER_PURPOSES);
const OPERATION_SET: ReadonlySet<unknown> = new Set(PARTNER_OPERATIONS);
const PARTNER_SET: ReadonlySet<unknown> = new Set(PARTNERS);
const ATTEMPT_KEYS: ReadonlySet<string> = new Set(Object.keys(PartnerAttemptInput.shape));
const RESULT_KEYS: ReadonlySet<string> = new Set(Object.keys(PartnerResultInput.shape));
const isOpaque = (value: unknown) => isText(value, 1, 128);
const absent = (value: unknown) => value === undefined || value === null;

/** `PartnerAttemptInput` parsed: at the cost of a few comparisons when it is as it should be. */
export function checkedAttempt(input: PartnerAttemptInput): ParsedAttempt {
  const ok =
    hasOnlyKeys(input, ATTEMPT_KEYS) &&
    isOpaque(input.userId) &&
    PURPOSE_SET.has(input.purpose) &&
    OPERATION_SET.has(input.operation) &&
    PARTNER_SET.has(input.partner) &&
    (absent(input.target) || isOpaque(input.target)) &&
    isIntIn(input.attempt, 0, 1000) &&
    isOpaque(input.callId) &&
    (input.endsProcessing === undefined || typeof input.endsProcessing === "boolean");
  return ok ? { ...input } : parseInput(PartnerAttemptInput, input, "partner attempt");
}

/** `PartnerResultInput` parsed, as `checkedAttempt`. */
export function checkedResult(input: PartnerResultInput): ParsedResult {
  const ok =
    hasOnlyKeys(input, RESULT_KEYS) &&
    isOpaque(input.callId) &&
    OPERATION_SET.has(input.operation) &&
    PARTNER_SET.has(input.partner) &&
    (absent(input.target) || isOpaque(input.target)) &&
    (absent(input.userId) || isOpaque(input.userId)) &&
    (absent(input.purpose) || PURPOSE_SET.has(input.purpose)) &&
    isIntIn(input.attempt, 0, 1000) &&
    typeof input.result === "string" &&
    RESULT_WORD.test(input.result) &&
    (absent(input.errorCode) || typeof input.errorCode === "string") &&
    (absent(input.httpStatus) || isIntIn(input.httpStatus, 100, 599)) &&
    isIntIn(input.latencyMs, 0, 86_400_000);
  return ok ? { ...input } : parseInput(PartnerResultInput, input, "partner result");
}

/**
 * The gate before every partner request. In ONE transaction: takes this process's chain lock,
 * reads the consent row FOR SHARE (so a revoke on any instance is ordered against it by the row
 * itself), then appends either the `partner.request` row (result "pending") or, without
 * consent, an `access.denied` row. The denial is committed, then `ConsentRequiredError` is
 * thrown, so refusals are audited too. Returns the audit event id; any database error
 * propagates: do not call the partner. `createAuditWriter` does the same for many at once.
 */
export async function recordPartnerAttempt(
  db: Database,
  input: PartnerAttemptInput,
  audit: AuditContext,
): Promise<string> {
  const attempt = parseInput(PartnerAttemptInput, input, "partner attempt");
  const outcome = await db.transaction(async (tx) => {
    await lockAuditChain(tx);
    const granted = attempt.endsProcessing === true || (await grantedPairs(tx, [attempt])).size > 0;
    const event = await recordAuditEvent(tx, attemptRow(attempt, audit, granted));
    return { granted, eventId: event.id };
  });
  if (!outcome.granted) throw new ConsentRequiredError(attempt.purpose, outcome.eventId);
  return outcome.eventId;
}

type ParsedAttempt = z.output<typeof PartnerAttemptInput>;
type ParsedResult = z.output<typeof PartnerResultInput>;

/**
 * Which of these residents' purposes are granted now, reading their consent rows FOR SHARE (in
 * one order, so concurrent gates and revokes cannot deadlock): a revoke's UPDATE waits for this
 * transaction, and this read waits for a revoke in progress.
 */
export async function grantedPairs(
  tx: Database,
  attempts: readonly Pick<ParsedAttempt, "userId" | "purpose">[],
): Promise<Set<string>> {
  if (attempts.length === 0) return new Set();
  const rows = await tx
    .select({
      userId: consentCurrent.userId,
      purpose: consentCurrent.purpose,
      state: consentCurrent.state,
    })
    .from(consentCurrent)
    .where(
      or(
        ...attempts.map((a) =>
          and(eq(consentCurrent.userId, a.userId), eq(consentCurrent.purpose, a.purpose)),
        ),
      ),
    )
    .orderBy(consentCurrent.userId, consentCurrent.purpose)
    .for("share");
  return new Set(rows.filter((row) => row.state === "granted").map((row) => pairKey(row)));
}

export function pairKey(attempt: { userId: string; purpose: Purpose }): string {
  return `${attempt.purpose}\u0000${attempt.userId}`;
}

/** The `partner.request` row of an attempt, or its `access.denied` row without consent. */
export function attemptRow(
  attempt: ParsedAttempt,
  audit: AuditContext,
  granted: boolean,
): AuditEventInput {
  return {
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
  };
}

/** The audit's code format; anything else a partner sent becomes `http_<status>`. */
const AUDIT_CODE = /^[A-Za-z0-9_.:-]{1,64}$/;

/** The `partner.response` row that closes a `partner.request` (same `callId`). */
export function resultRow(result: ParsedResult, audit: AuditContext): AuditEventInput {
  return {
    ...contextFields(audit),
    kind: "partner.response",
    result: result.result,
    // The partner's answer can never stop its row: a code outside the format is normalised.
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
  };
}

/** Appends the `partner.response` row that closes a `partner.request` (same `callId`). */
export async function recordPartnerResult(
  db: Database,
  input: PartnerResultInput,
  audit: AuditContext,
): Promise<string> {
  const result = parseInput(PartnerResultInput, input, "partner result");
  const event = await recordAuditEvent(db, resultRow(result, audit));
  return event.id;
}

export { PartnerAttemptInput as PartnerAttemptSchema, PartnerResultInput as PartnerResultSchema };

const DeniedInput = z.strictObject({
  errorCode: z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/),
  userId: Opaque.nullish(),
  operation: Operation.nullish(),
  partner: z.enum(PARTNERS).nullish(),
  purpose: z.enum(PURPOSES).nullish(),
  target: Opaque.nullish(),
});
export type DeniedInput = z.input<typeof DeniedInput>;

/** The `access.denied` row of a refusal (e.g. `FORBIDDEN_DEVICE`, `RATE_LIMITED`, `BLOCKED`). */
export function deniedRow(input: DeniedInput, audit: AuditContext): AuditEventInput {
  const denied = parseInput(DeniedInput, input, "access denial");
  return {
    ...contextFields(audit),
    kind: "access.denied",
    result: "denied",
    errorCode: denied.errorCode,
    userId: denied.userId ?? null,
    operation: denied.operation ?? null,
    partner: denied.partner ?? null,
    purpose: denied.purpose ?? null,
    target: denied.target ?? null,
  };
}

/** Appends an `access.denied` row (e.g. `FORBIDDEN_DEVICE`, `RATE_LIMITED`, `BLOCKED`). */
export async function recordDenied(
  db: Database,
  input: DeniedInput,
  audit: AuditContext,
): Promise<string> {
  const event = await recordAuditEvent(db, deniedRow(input, audit));
  return event.id;
}
