import type {
  AuditWriter,
  ConsentCache,
  DatabaseHandle,
  DeviceCache,
  JournalWriter,
  SubjectRegistry,
} from "@propgate/consent-audit";
import type { Logger, Metrics, Tracing } from "@propgate/observability";
import type { AdminReadLimits } from "./admin/read-limits.ts";
import type { ResidentVerifier } from "./auth.ts";
import type { ReceiptSigner } from "./consent/receipts.ts";
import type { UnitConfirmer } from "./events/confirm-units.ts";
import type { ResidentEventHub } from "./events/event-hub.ts";
import type { ResidentEvent } from "./events/resident-event.ts";
import type { InflightCalls } from "./partner-call/inflight.ts";
import type { Partners } from "./partners.ts";
import type { RateLimits } from "./rate-limits/limits.ts";
import type { AppSettings } from "./settings.ts";
import type { Watch } from "./watch/watch.ts";

/**
 * What the procedures run on, built once at startup (`startInstance`): the settings, and the
 * long-lived services, each built by the function named beside it. A unit takes the few it uses
 * (`PartnerCallServices`, `VideoEndServices`), never this whole bag; this module imports types
 * only, and nothing it names imports it back.
 */
export interface AppDeps {
  settings: AppSettings;
  /** `openDatabase` (consent-audit). */
  database: DatabaseHandle;
  /** Group commit of the partner calls' audit rows: `createCallAuditWriter` (consent-audit). */
  auditWriter: AuditWriter;
  /** Group commit of the residents' own opens' journal entries: `createJournalWriter`. */
  journalWriter: JournalWriter;
  /** Anomaly rules and the blocks they place (every instance enforces them within a second). */
  watch: Watch;
  /** Statement timeouts of admin reads; one audit verify and one export at a time. */
  adminReads: AdminReadLimits;
  logger: Logger;
  metrics: Metrics;
  /** Spans of the request path (`createTracing`, observability); `TRACING_OFF` without `OTEL_*`. */
  tracing: Tracing;
  /** Bearer tokens → principals: `createResidentVerifier` (auth.ts). */
  verifier: ResidentVerifier;
  /** One client per partner: `createPartners` (partners.ts). */
  partners: Partners;
  /** Devices by id for authorizing calls: `createDeviceCache` (consent-audit). */
  devices: DeviceCache;
  /** The early consent answer (grants only; the attempt's gate re-checks): `createConsentCache`. */
  consents: ConsentCache;
  /** Subject pseudonyms per partner, and whom each stands for: `createSubjectRegistry`. */
  subjects: SubjectRegistry;
  /** The residents' units as their tokens name them: `createUnitConfirmer` (events). */
  units: UnitConfirmer;
  /** Partner calls in flight, abandoned when the consent bus reports a revocation. */
  inflight: InflightCalls;
  /** Per IP, resident, door/gate open, partner client and outbound partner (invariant 7). */
  rateLimits: RateLimits;
  /** The live journal streams of `events.onEvent`. */
  journalEvents: JournalEvents;
  /** Signs consent receipts: the audit signing key; null without one (receipts come unsigned). */
  receiptSigner: ReceiptSigner | null;
}

/** What `events.onEvent` runs on: this instance's streams, fed by the journal's NOTIFY. */
export interface JournalEvents {
  hub: ResidentEventHub<ResidentEvent>;
  /** Whether the resident's `journal` consent is granted now. */
  consented(userId: string): Promise<boolean>;
}
