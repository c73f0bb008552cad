import {
  type AuditContext,
  ConsentRequiredError,
  type DeniedInput,
  type Device,
  type PartnerAttemptInput,
  type PartnerResultInput,
  type SubjectOwner,
} from "@propgate/consent-audit";
import type { AnomalyKind, BlockSubjectType, Partner, Purpose } from "@propgate/domain";
import { createMetrics, TRACING_OFF } from "@propgate/observability";
import { createPartnerClient, intercomOperations, subjectFor } from "@propgate/partner-client";
import { BlockedError, UnauthorizedError } from "../src/errors.ts";
import type {
  AppDeps,
  LimitDecision,
  LimitName,
  Principal,
  RateLimits,
  WatchRule,
} from "../src/index.ts";
import type { PartnerCallServices } from "../src/partner-call/call-partner.ts";
import { createInflightCalls } from "../src/partner-call/inflight.ts";

/**
 * In-memory fakes of the services the request path uses, each keeping what it was asked, so a
 * test can say what a caller, an auditor or an operator would see.
 */

/** `impl` standing in for a whole `T`: what the unit under test uses; any other member throws. */
export function only<T extends object>(name: string, impl: Partial<T> = {}): T {
  return new Proxy(impl, {
    get(target, property, receiver) {
      if (property in target) return Reflect.get(target, property, receiver);
      if (property === "then" || typeof property === "symbol") return undefined;
      throw new Error(`${name}.${String(property)} is not used by this unit`);
    },
  }) as T;
}

/** Consent as the consent rows hold it (what the attempt's gate reads). */
export function consentBook() {
  const granted = new Set<string>();
  const key = (userId: string, purpose: string) => `${purpose}\u0000${userId}`;
  return {
    grant(userId: string, purpose: Purpose) {
      granted.add(key(userId, purpose));
    },
    revoke(userId: string, purpose: Purpose) {
      granted.delete(key(userId, purpose));
    },
    holds: (userId: string, purpose: string) => granted.has(key(userId, purpose)),
    /** The early answer (`ConsentCache.isGranted`), here never stale. */
    isGranted: async (userId: string, purpose: Purpose) => granted.has(key(userId, purpose)),
    /** A change this instance made (`ConsentCache.changed`): never stale, nothing to drop. */
    changed() {},
  };
}
type ConsentBook = ReturnType<typeof consentBook>;

export type AuditRow =
  | { kind: "partner.request"; row: PartnerAttemptInput; audit: AuditContext }
  | { kind: "partner.response"; row: PartnerResultInput; audit: AuditContext }
  | { kind: "access.denied"; row: DeniedInput; audit: AuditContext };

/**
 * The audit writer's contract in memory: a request row with the consent re-check (a revoked
 * consent gets an `access.denied` row and `ConsentRequiredError`, unless the call ends
 * processing), the answer's row, a refusal's row. `events` interleaves them with the partner's.
 */
export function memoryAuditWriter(consent: ConsentBook, events: string[] = []) {
  const rows: AuditRow[] = [];
  const add = (entry: AuditRow) => `evt_${rows.push(entry)}`;
  return {
    rows,
    async attempt(row: PartnerAttemptInput, audit: AuditContext) {
      if (!row.endsProcessing && !consent.holds(row.userId ?? "", row.purpose ?? "")) {
        events.push(`denied ${row.operation}`);
        const eventId = add({
          kind: "access.denied",
          row: { ...row, errorCode: "CONSENT_REQUIRED" } as DeniedInput,
          audit,
        });
        throw new ConsentRequiredError(row.purpose ?? "", eventId);
      }
      events.push(`request #${row.attempt}`);
      return add({ kind: "partner.request", row, audit });
    },
    result(row: PartnerResultInput, audit: AuditContext) {
      events.push(`response #${row.attempt} ${row.result}`);
      add({ kind: "partner.response", row, audit });
    },
    async denied(row: DeniedInput, audit: AuditContext) {
      events.push(`denied ${row.errorCode}`);
      return add({ kind: "access.denied", row, audit });
    },
  };
}

export function memoryDevices(devices: Device[]) {
  const byId = new Map(devices.map((device) => [device.id, device]));
  return { get: async (id: string) => byId.get(id) ?? null };
}

export function device(
  fields: Pick<Device, "id" | "kind" | "siteId" | "partner"> & Partial<Device>,
): Device {
  return {
    partnerDeviceId: `partner-${fields.id}`,
    name: fields.id,
    createdAt: "2025-01-01T00:00:00.000Z",
    updatedAt: "2025-01-01T00:00:00.000Z",
    ...fields,
  };
}

/** The pseudonym a partner knows a resident by, under a fixed test key per partner. */
export const pseudonymOf = (partner: Partner, userId: string) =>
  subjectFor(userId, new TextEncoder().encode(`test-key-${partner}`));

/** Pseudonyms, and the record of whom each stands for. */
export function memorySubjects() {
  const recorded: Array<{ partner: Partner; userId: string; sites: string[] }> = [];
  const confirmed: string[][] = [];
  let failure: Error | null = null;
  return {
    recorded,
    confirmed,
    failWith(error: Error | null) {
      failure = error;
    },
    pseudonym: pseudonymOf,
    async subjectOf(partner: Partner, owner: SubjectOwner) {
      if (failure) throw failure;
      recorded.push({ partner, userId: owner.userId, sites: [...owner.sites] });
      return pseudonymOf(partner, owner.userId);
    },
    async confirmSites(owner: SubjectOwner) {
      if (failure) throw failure;
      confirmed.push([...owner.sites]);
    },
  };
}

/** The anomaly rules' side: what was observed, and blocks a test places. */
export function memoryWatch() {
  const observed: Array<[WatchRule, string | null | undefined, string?]> = [];
  const blocked = new Map<string, { seconds: number; kind: AnomalyKind }>();
  return {
    observed,
    block(subjectType: BlockSubjectType, subjectId: string, kind: AnomalyKind, seconds = 900) {
      blocked.set(`${subjectType}:${subjectId}`, { seconds, kind });
    },
    observe(rule: WatchRule, subjectId: string | null | undefined, member?: string) {
      observed.push(member === undefined ? [rule, subjectId] : [rule, subjectId, member]);
    },
    enforce(subjectType: BlockSubjectType, subjectId: string | null | undefined) {
      const block = blocked.get(`${subjectType}:${subjectId}`);
      if (block) throw new BlockedError(block.seconds, block.kind);
    },
  };
}

/** Fixed-window counts in memory; `quotas` per limit (default roomy). */
export function countingRateLimits(quotas: Partial<Record<LimitName, number>> = {}) {
  const consumed: Array<[LimitName, string]> = [];
  const counts = new Map<string, number>();
  const limits = {
    backend: "memory" as const,
    consumed,
    async consume(limit: LimitName, key: string): Promise<LimitDecision> {
      consumed.push([limit, key]);
      const count = (counts.get(`${limit}:${key}`) ?? 0) + 1;
      counts.set(`${limit}:${key}`, count);
      const quota = quotas[limit] ?? 1000;
      const allowed = count <= quota;
      return {
        limit,
        allowed,
        quota,
        windowSeconds: 60,
        remaining: Math.max(0, quota - count),
        resetSeconds: 42,
      };
    },
    close: async () => {},
  };
  return limits satisfies RateLimits;
}

/** Bearer tokens by name: `Bearer <name>` is its principal; anything else is refused. */
export function tokenVerifier(tokens: Record<string, Principal>) {
  return {
    async verify(authorization: string | null | undefined): Promise<Principal> {
      if (!authorization) throw new UnauthorizedError("a bearer token is required");
      const principal = tokens[authorization.replace(/^Bearer /, "")];
      if (!principal) throw new UnauthorizedError("the token is not valid for this service");
      return principal;
    },
  };
}

/** What `callPartner` runs on: fakes of the services, the real in-flight tracking and metrics. */
export function partnerCallServices(devices: Device[]) {
  const consent = consentBook();
  const events: string[] = [];
  const services = {
    devices: memoryDevices(devices),
    consents: consent,
    subjects: memorySubjects(),
    auditWriter: memoryAuditWriter(consent, events),
    inflight: createInflightCalls(),
    watch: memoryWatch(),
    metrics: createMetrics({ app: "api-test" }),
    tracing: TRACING_OFF,
  };
  return { services: services satisfies PartnerCallServices, consent, events };
}

/** Denials counted per reason (`propgate_access_denied_total`), as an operator reads them. */
export async function deniedCounts(metrics: ReturnType<typeof createMetrics>) {
  const { values } = await metrics.accessDenied.get();
  return Object.fromEntries(values.map((sample) => [sample.labels.reason, sample.value]));
}

/** Answers the n-th request with `replies[n]` (the last one repeats). */
export type PartnerReply = (request: { url: string; signal: AbortSignal }) => Promise<Response>;

export const partnerAnswers = {
  opened: async () =>
    Response.json({ eventId: "open-1", openedAt: "2025-05-01T10:00:00.000Z" }, { status: 200 }),
  busy: async () => Response.json({ error: "busy" }, { status: 503 }),
  /** Never answers, but lets the request be aborted, like a real fetch. */
  silent: (request: { signal: AbortSignal }) =>
    new Promise<Response>((_, reject) => {
      request.signal.addEventListener("abort", () => reject(request.signal.reason), {
        once: true,
      });
    }),
} satisfies Record<string, PartnerReply>;

/**
 * The intercom partner's real client over a stub `fetch`: each request reaching the partner is
 * logged in `events` as `sent`, and `onSent` resolves with the first one.
 */
export function stubIntercom(replies: PartnerReply[], events: string[]) {
  const requests: string[] = [];
  let reached: () => void = () => {};
  const onSent = new Promise<void>((resolve) => {
    reached = resolve;
  });
  const client = createPartnerClient({
    name: "intercom",
    baseUrl: new URL("https://intercom.test/api/"),
    tokenSource: { getToken: async () => "partner-token" },
    fetch: async (input, init) => {
      requests.push(String(input));
      events.push("sent");
      reached();
      const reply = replies[Math.min(requests.length, replies.length) - 1];
      if (!reply) throw new Error("no reply scripted");
      return reply({ url: String(input), signal: init?.signal ?? new AbortController().signal });
    },
    timeoutMs: 2000,
    retryBaseDelayMs: 1,
    retryMaxDelayMs: 2,
  });
  return { ...intercomOperations(client), client, requests, onSent };
}

/** Settings of a test instance. */
export const TEST_SETTINGS: AppDeps["settings"] = {
  instanceId: "api-test",
  video: {
    maxSessionsPerResident: 2,
    sessionMaxSeconds: 600,
    endRetry: { baseRetrySeconds: 1, maxRetrySeconds: 4 },
  },
  guestKeys: { maxHours: 72, maxActive: 10 },
  faceMaxImageBytes: 1024,
  auditVerifyKey: null,
  destructionRecordYears: 3,
  eventsWebhook: null,
};
