import {
  type AuditContext,
  type AuditWriter,
  type ConsentCache,
  ConsentRequiredError,
  type Device,
  type DeviceCache,
  InvalidInputError,
  type SubjectRegistry,
} from "@propgate/consent-audit";
import {
  type DeviceKind,
  newId,
  type Partner,
  type PartnerOperation,
  type PartnerPurpose,
} from "@propgate/domain";
import type { Metrics, Tracing } from "@propgate/observability";
import type { CallHooks } from "@propgate/partner-client";
import { OPERATIONS } from "@propgate/partner-client/contract";
import type { Principal } from "../auth.ts";
import { ForbiddenDeviceError, ForbiddenSiteError } from "../errors.ts";
import type { RequestTiming } from "../timing.ts";
import type { Watch } from "../watch/watch.ts";
import { auditHooks } from "./audit-hooks.ts";
import type { InflightCalls } from "./inflight.ts";

/** The partner operations a resident's call can make (erasure and health are Propgate's own). */
export type ResidentOperation = Exclude<
  PartnerOperation,
  "subjects.erase" | "subjects.erasure_status" | "health"
>;

/**
 * The services a partner call uses, cut to the methods it calls. In an instance each is the one
 * built at startup (`AppDeps`: `createDeviceCache`, `createConsentCache`, `createSubjectRegistry`,
 * `createAuditWriter`, `createInflightCalls`, `createWatch`, `createMetrics`).
 */
export interface PartnerCallServices {
  devices: Pick<DeviceCache, "get">;
  consents: Pick<ConsentCache, "isGranted">;
  subjects: Pick<SubjectRegistry, "subjectOf">;
  auditWriter: Pick<AuditWriter, "attempt" | "result" | "denied">;
  inflight: Pick<InflightCalls, "run">;
  watch: Pick<Watch, "observe">;
  metrics: Pick<Metrics, "accessDenied">;
  /** The consent check, subject lookup and audit commit as spans of the request's trace. */
  tracing: Pick<Tracing, "leaf">;
}

/** Who calls, which operation, what for: built once per request by `partnerProcedure`. */
export interface PartnerCallScope {
  services: PartnerCallServices;
  principal: Principal;
  audit: AuditContext;
  operation: ResidentOperation;
  purpose: PartnerPurpose;
  /** The request's `Server-Timing` spans, when served. */
  timing?: RequestTiming;
}

/** What a call acts on, which decides how it is authorized and which partner serves it. */
export type CallTarget =
  /** A device on one of the resident's sites, of the operation's kind; its partner serves it. */
  | { device: string }
  /**
   * Devices of `kind`, all on one of the resident's sites and of the operation's partner (a
   * guest key's doors); the site is the target.
   */
  | { devices: string[]; kind: DeviceKind }
  /** One of the resident's sites; the operation's partner serves the call. */
  | { site: string }
  /** The resident's own data at the partner (a face, a video session), named for the audit. */
  | { own: string; partner?: Partner };

/** What the adapter call gets: the partner, the device, the resident's pseudonym, the hooks. */
export interface CallIo {
  partner: Partner;
  device: Device | null;
  /** The devices of a `devices` target, authorized, in the order asked; else empty. */
  devices: Device[];
  subject: string;
  hooks: CallHooks;
  /** The call's id on its audit rows (what a journal entry of the call points at). */
  callId: string;
  signal?: AbortSignal;
}

/**
 * One partner call for a resident, in one pass: authorize the device or site → consent →
 * subject pseudonym → audited attempts (a row before every request, invariant 1) → in-flight
 * tracking (a revocation abandons it, invariant 2) → `run`, the adapter call. Calls that stop
 * processing (`endsProcessing`: end a session) are neither gated by consent nor abandoned.
 */
export async function callPartner<T>(
  scope: PartnerCallScope,
  target: CallTarget,
  run: (io: CallIo) => Promise<T>,
  options: { endsProcessing?: boolean } = {},
): Promise<T> {
  const { services, principal, purpose, operation } = scope;
  let device: Device | null = null;
  let devices: Device[] = [];
  let targetId: string;
  const spec = OPERATIONS[operation];
  let partner: Partner | null = spec.partner;
  if ("device" in target) {
    if (!spec.deviceKind) throw new Error(`${operation} acts on no device`);
    device = await authorizeDevice(scope, target.device, spec.deviceKind, partner);
    targetId = device.id;
    partner = device.partner;
  } else if ("devices" in target) {
    devices = [];
    for (const id of target.devices) {
      devices.push(await authorizeDevice(scope, id, target.kind, partner));
    }
    const sites = new Set(devices.map((d) => d.siteId));
    if (sites.size !== 1) throw new InvalidInputError("all devices must be at one site");
    targetId = devices[0]?.siteId ?? "";
    partner = devices[0]?.partner ?? partner;
  } else if ("site" in target) {
    targetId = await authorizeSite(scope, target.site);
  } else {
    targetId = target.own;
    partner = target.partner ?? partner;
  }
  if (!partner) throw new Error(`no partner serves ${operation} for this target`);
  if (!options.endsProcessing) await requireConsent(scope, targetId);

  const subject = await services.tracing.leaf(
    "subject.lookup",
    { "propgate.partner": partner },
    () => services.subjects.subjectOf(partner, principal),
  );
  const callId = newId("call");
  const hooks = auditHooks(
    services.auditWriter,
    scope.audit,
    {
      userId: principal.userId,
      purpose,
      operation,
      partner,
      target: targetId,
      callId,
      endsProcessing: options.endsProcessing,
    },
    scope.timing,
    services.tracing,
  );
  const io = { partner, device, devices, subject, hooks, callId };
  if (options.endsProcessing) return run(io);
  return services.inflight.run(principal.userId, purpose, (signal) => run({ ...io, signal }));
}

/** A refusal before any partner request: counted, audited, then thrown. */
async function deny(scope: PartnerCallScope, target: string, errorCode: string) {
  const { metrics, watch, auditWriter } = scope.services;
  metrics.accessDenied.inc({ reason: errorCode.toLowerCase() });
  const { userId } = scope.principal;
  if (errorCode === "CONSENT_REQUIRED") watch.observe("consent_refusals", userId);
  else watch.observe("refused_targets", userId, `${errorCode}:${target}`);
  return auditWriter.denied(
    {
      userId: scope.principal.userId,
      operation: scope.operation,
      target,
      errorCode,
      purpose: scope.purpose,
    },
    scope.audit,
  );
}

/**
 * The device, if it is on one of the resident's sites, of the expected kind and (when the
 * operation names one) partner. Anything else — unknown, another site, another kind — is the
 * same FORBIDDEN_DEVICE.
 */
async function authorizeDevice(
  scope: PartnerCallScope,
  deviceId: string,
  kind: DeviceKind,
  partner: Partner | null,
): Promise<Device> {
  const device = await scope.services.devices.get(deviceId);
  if (
    device &&
    scope.principal.sites.includes(device.siteId) &&
    device.kind === kind &&
    (partner === null || device.partner === partner)
  ) {
    return device;
  }
  await deny(scope, deviceId, "FORBIDDEN_DEVICE");
  throw new ForbiddenDeviceError();
}

async function authorizeSite(scope: PartnerCallScope, siteId: string): Promise<string> {
  if (scope.principal.sites.includes(siteId)) return siteId;
  await deny(scope, siteId, "FORBIDDEN_SITE");
  throw new ForbiddenSiteError();
}

/** Early, cheap consent answer before any token is fetched; the atomic check runs per attempt. */
async function requireConsent(scope: PartnerCallScope, target: string): Promise<void> {
  return scope.services.tracing.leaf(
    "consent.check",
    { "propgate.purpose": scope.purpose },
    async (span) => {
      const granted = await scope.services.consents.isGranted(
        scope.principal.userId,
        scope.purpose,
      );
      span.setAttribute("propgate.granted", granted);
      if (granted) return;
      const eventId = await deny(scope, target, "CONSENT_REQUIRED");
      throw new ConsentRequiredError(scope.purpose, eventId);
    },
  );
}
