import { createHash } from "node:crypto";
import type { AuditContext } from "@propgate/consent-audit";
import { newId } from "@propgate/observability";
import { subjectFor } from "@propgate/partner-client";
import type { Principal } from "../auth.ts";
import type { AppDeps } from "../deps.ts";
import { authorizeDevice, partnerCall, requireConsent } from "./partner-call.ts";

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

/** Opens a door (intercom partner) or a gate (barrier partner) for a resident. */
export async function openDevice(
  deps: AppDeps,
  principal: Principal,
  audit: AuditContext,
  operation: keyof typeof KINDS,
  input: OpenDeviceInput,
) {
  const { kind, partner, purpose } = KINDS[operation];
  const scope = { deps, principal, audit, operation, purpose };
  const device = await authorizeDevice(scope, input.deviceId, { kind, partner });
  await requireConsent(scope, device.id);

  const runtime = deps.partners[device.partner];
  const callKey = input.idempotencyKey ?? newId("tap");
  const result = await partnerCall(
    scope,
    { partner: device.partner, target: device.id },
    ({ hooks, signal }) => {
      const request = {
        partnerDeviceId: device.partnerDeviceId,
        subject: subjectFor(principal.userId, runtime.subjectKey),
        idempotencyKey: partnerIdempotencyKey(principal.userId, device.id, callKey),
        hooks,
        signal,
      };
      return operation === "intercom.open"
        ? deps.partners.intercom.ops.openDoor(request)
        : deps.partners.barrier.ops.openGate(request);
    },
  );
  return {
    status: "opened" as const,
    eventId: result.eventId,
    at: new Date(result.openedAt).toISOString(),
  };
}
