import {
  type AuditContext,
  ConsentRequiredError,
  type Device,
  getDevice,
  listConsents,
  type Purpose,
  recordDenied,
  recordPartnerAttempt,
  recordPartnerResult,
  rememberSubject,
} from "@propgate/consent-audit";
import { newId } from "@propgate/observability";
import { type CallHooks, subjectFor } from "@propgate/partner-client";
import type { Principal } from "../auth.ts";
import type { AppDeps } from "../deps.ts";
import { ForbiddenDeviceError, ForbiddenSiteError } from "../errors.ts";

/** Subjects recorded lately, per api instance: the mapping is written once per 5 minutes, not per call. */
const remembered = new WeakMap<AppDeps, Map<string, number>>();
const REMEMBER_FOR_MS = 5 * 60_000;

/**
 * The partner may later ask about this subject (access checks): record whom it stands for and
 * the resident's sites. Skipped while the same mapping was written by this instance recently.
 */
async function rememberSubjectOnce(
  scope: PartnerCallScope,
  partner: Device["partner"],
): Promise<void> {
  let seen = remembered.get(scope.deps);
  if (!seen) {
    seen = new Map();
    remembered.set(scope.deps, seen);
  }
  const subject = subjectFor(scope.principal.userId, scope.deps.partners[partner].subjectKey);
  const key = `${partner}\u0000${subject}\u0000${[...scope.principal.sites].sort().join(",")}`;
  const now = Date.now();
  if ((seen.get(key) ?? 0) > now - REMEMBER_FOR_MS) return;
  await rememberSubject(scope.deps.database.db, {
    partner,
    subject,
    userId: scope.principal.userId,
    sites: scope.principal.sites,
  });
  if (seen.size > 50_000) seen.clear();
  seen.set(key, now);
}

/** What every resident call that reaches a partner shares: who, which operation, what for. */
export interface PartnerCallScope {
  deps: AppDeps;
  principal: Principal;
  audit: AuditContext;
  operation: string;
  purpose: Purpose;
}

/**
 * The device, if it is on one of the resident's sites and of the expected kind. Anything else
 * — unknown, another site, another kind — is the same FORBIDDEN_DEVICE, audited.
 */
export async function authorizeDevice(
  scope: PartnerCallScope,
  deviceId: string,
  expected: { kind: Device["kind"]; partner?: Device["partner"] },
): Promise<Device> {
  const device = await getDevice(scope.deps.database.db, deviceId);
  const fits =
    device &&
    scope.principal.sites.includes(device.siteId) &&
    device.kind === expected.kind &&
    (expected.partner === undefined || device.partner === expected.partner);
  if (!device || !fits) {
    scope.deps.metrics.accessDenied.inc({ reason: "forbidden_device" });
    await recordDenied(
      scope.deps.database.db,
      {
        userId: scope.principal.userId,
        operation: scope.operation,
        target: deviceId,
        errorCode: "FORBIDDEN_DEVICE",
        purpose: scope.purpose,
      },
      scope.audit,
    );
    throw new ForbiddenDeviceError();
  }
  return device;
}

/** The site, if it is one of the resident's; otherwise an audited refusal. */
export async function authorizeSite(scope: PartnerCallScope, siteId: string): Promise<string> {
  if (scope.principal.sites.includes(siteId)) return siteId;
  scope.deps.metrics.accessDenied.inc({ reason: "forbidden_site" });
  await recordDenied(
    scope.deps.database.db,
    {
      userId: scope.principal.userId,
      operation: scope.operation,
      target: siteId,
      errorCode: "FORBIDDEN_SITE",
      purpose: scope.purpose,
    },
    scope.audit,
  );
  throw new ForbiddenSiteError();
}

/** Early, cheap consent answer before any token is fetched; the atomic check runs per attempt. */
export async function requireConsent(scope: PartnerCallScope, target: string): Promise<void> {
  const consents = await listConsents(scope.deps.database.db, scope.principal.userId);
  if (consents.find((consent) => consent.purpose === scope.purpose)?.state === "granted") return;
  scope.deps.metrics.accessDenied.inc({ reason: "consent_required" });
  const eventId = await recordDenied(
    scope.deps.database.db,
    {
      userId: scope.principal.userId,
      operation: scope.operation,
      target,
      errorCode: "CONSENT_REQUIRED",
      purpose: scope.purpose,
    },
    scope.audit,
  );
  throw new ConsentRequiredError(scope.purpose, eventId);
}

/**
 * Runs one partner call for a resident: every request sent gets its audit row first (with a
 * consent re-check), and a revocation seen on the consent bus abandons it at once. Calls that
 * stop processing (end a session, erase data) are neither gated by consent nor abandoned.
 */
export async function partnerCall<T>(
  scope: PartnerCallScope,
  call: { partner: Device["partner"]; target: string; endsProcessing?: boolean },
  run: (io: { hooks: CallHooks; signal?: AbortSignal }) => Promise<T>,
): Promise<T> {
  await rememberSubjectOnce(scope, call.partner);
  const hooks = auditedAttempts(scope, { ...call, callId: newId("call") });
  if (call.endsProcessing) return run({ hooks });
  const ticket = scope.deps.inflight.track(scope.principal.userId, scope.purpose);
  try {
    return await run({ hooks, signal: ticket.signal });
  } catch (error) {
    if (ticket.signal.aborted && ticket.signal.reason instanceof ConsentRequiredError)
      throw ticket.signal.reason;
    throw error;
  } finally {
    ticket.release();
  }
}

/** One partner call as the audit log sees it. */
export interface AuditedCall {
  userId: string;
  purpose: Purpose;
  operation: string;
  partner: Device["partner"];
  target: string;
  callId: string;
  endsProcessing?: boolean;
}

/**
 * Hooks that give every request sent to the partner its audit row first — written together
 * with a consent re-check (unless the call ends processing), so nothing is sent without both —
 * and record each answer.
 */
export function auditHooks(
  db: AppDeps["database"]["db"],
  audit: AuditContext,
  call: AuditedCall,
): CallHooks {
  return {
    async beforeAttempt({ attempt }) {
      await recordPartnerAttempt(
        db,
        {
          userId: call.userId,
          purpose: call.purpose,
          operation: call.operation,
          partner: call.partner,
          target: call.target,
          attempt,
          callId: call.callId,
          endsProcessing: call.endsProcessing,
        },
        audit,
      );
    },
    async afterAttempt(outcome) {
      await recordPartnerResult(
        db,
        {
          callId: call.callId,
          operation: call.operation,
          partner: call.partner,
          target: call.target,
          userId: call.userId,
          purpose: call.purpose,
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

function auditedAttempts(
  scope: PartnerCallScope,
  call: { partner: Device["partner"]; target: string; callId: string; endsProcessing?: boolean },
): CallHooks {
  return auditHooks(scope.deps.database.db, scope.audit, {
    ...call,
    userId: scope.principal.userId,
    purpose: scope.purpose,
    operation: scope.operation,
  });
}

/**
 * One audited call to a partner on behalf of the calling resident, for the pass-through
 * operations (plates, faces): optional site check, consent check, then `run` with the
 * resident's subject pseudonym for that partner.
 */
export async function callPartnerAsResident<T>(
  scope: PartnerCallScope,
  call: { partner: Device["partner"]; target: string; siteId?: string },
  run: (io: { subject: string; hooks: CallHooks; signal?: AbortSignal }) => Promise<T>,
): Promise<T> {
  if (call.siteId !== undefined) await authorizeSite(scope, call.siteId);
  await requireConsent(scope, call.target);
  const subject = subjectFor(scope.principal.userId, scope.deps.partners[call.partner].subjectKey);
  return partnerCall(scope, { partner: call.partner, target: call.target }, (io) =>
    run({ subject, ...io }),
  );
}
