import { createHash } from "node:crypto";
import {
  type AuditContext,
  ConsentRequiredError,
  getDevice,
  listConsents,
  recordDenied,
  recordPartnerAttempt,
  recordPartnerResult,
} from "@propgate/consent-audit";
import { newId } from "@propgate/observability";
import { type CallHooks, subjectFor } from "@propgate/partner-client";
import type { Principal } from "../auth.ts";
import type { AppDeps } from "../deps.ts";
import { ForbiddenDeviceError } from "../errors.ts";

const KINDS = {
  "intercom.open": { kind: "door", partner: "intercom", purpose: "intercom" },
  "barrier.open": { kind: "gate", partner: "barrier", purpose: "barrier" },
} as const;

export interface OpenDeviceInput {
  deviceId: string;
  idempotencyKey?: string;
}

/**
 * The key the partner sees: derived from the resident's key, the resident and the device, so
 * two residents who happen to pick the same key never share a partner-side result.
 */
function partnerIdempotencyKey(userId: string, deviceId: string, key: string): string {
  return `pg_${createHash("sha256").update(`${userId}\0${deviceId}\0${key}`).digest("base64url")}`;
}

/**
 * Opens a door or gate for a resident: device must be on one of the resident's sites, consent
 * for the purpose must be granted, and every request sent to the partner gets its audit row
 * first (written together with a consent re-check; if that fails nothing is sent).
 */
export async function openDevice(
  deps: AppDeps,
  principal: Principal,
  audit: AuditContext,
  operation: keyof typeof KINDS,
  input: OpenDeviceInput,
) {
  const { kind, partner, purpose } = KINDS[operation];
  const { db } = deps.database;
  const device = await getDevice(db, input.deviceId);
  if (
    !device ||
    !principal.sites.includes(device.siteId) ||
    device.kind !== kind ||
    device.partner !== partner
  ) {
    deps.metrics.accessDenied.inc({ reason: "forbidden_device" });
    await recordDenied(
      db,
      {
        userId: principal.userId,
        operation,
        target: input.deviceId,
        errorCode: "FORBIDDEN_DEVICE",
        purpose,
        partner,
      },
      audit,
    );
    throw new ForbiddenDeviceError();
  }
  // Cheap early answer before fetching a token; the atomic check runs again per attempt.
  const consents = await listConsents(db, principal.userId);
  if (consents.find((consent) => consent.purpose === purpose)?.state !== "granted") {
    deps.metrics.accessDenied.inc({ reason: "consent_required" });
    const eventId = await recordDenied(
      db,
      {
        userId: principal.userId,
        operation,
        target: device.id,
        errorCode: "CONSENT_REQUIRED",
        purpose,
        partner,
      },
      audit,
    );
    throw new ConsentRequiredError(purpose, eventId);
  }

  const runtime = deps.partners[partner];
  const callId = newId("call");
  const hooks: CallHooks = {
    async beforeAttempt({ attempt }) {
      await recordPartnerAttempt(
        db,
        {
          userId: principal.userId,
          purpose,
          operation,
          partner,
          target: device.id,
          attempt,
          callId,
        },
        audit,
      );
    },
    async afterAttempt(outcome) {
      await recordPartnerResult(
        db,
        {
          callId,
          operation,
          partner,
          target: device.id,
          userId: principal.userId,
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
  const request = {
    partnerDeviceId: device.partnerDeviceId,
    subject: subjectFor(principal.userId, runtime.subjectKey),
    idempotencyKey: partnerIdempotencyKey(
      principal.userId,
      device.id,
      input.idempotencyKey ?? callId,
    ),
    hooks,
  };
  const result =
    operation === "intercom.open"
      ? await deps.partners.intercom.ops.openDoor(request)
      : await deps.partners.barrier.ops.openGate(request);
  return {
    status: "opened" as const,
    eventId: result.eventId,
    at: new Date(result.openedAt).toISOString(),
  };
}
