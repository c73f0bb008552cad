import type { KeyObject } from "node:crypto";
import type {
  AuditWriter,
  ConsentCache,
  DatabaseHandle,
  DeviceCache,
  SubjectRegistry,
} from "@propgate/consent-audit";
import type { Logger, Metrics } from "@propgate/observability";
import type { AdminReadLimits } from "./admin/read-limits.ts";
import type { ResidentVerifier } from "./auth.ts";
import type { InflightCalls } from "./partner-call/inflight.ts";
import type { Partners } from "./partners.ts";
import type { RateLimits } from "./rate-limits/limits.ts";
import type { EndRetry } from "./video/end-at-partner.ts";
import type { Watch } from "./watch/watch.ts";

/** Long-lived things a procedure uses, built once at startup (`startInstance`). */
export interface AppDeps {
  database: DatabaseHandle;
  /** Group commit of the partner calls' audit rows (one transaction for concurrent calls). */
  auditWriter: AuditWriter;
  /** Anomaly rules and the blocks they place (every instance enforces them within a second). */
  watch: Watch;
  /** Statement timeouts of admin reads; one audit verify and one export at a time. */
  adminReads: AdminReadLimits;
  /** Checks checkpoint signatures in `admin.audit.verify`; null without a signing key. */
  auditVerifyKey: KeyObject | null;
  logger: Logger;
  metrics: Metrics;
  verifier: ResidentVerifier;
  partners: Partners;
  /** Devices by id for authorizing calls, refreshed when the registry changes. */
  devices: DeviceCache;
  /** The early consent answer (grants only; the attempt's gate re-checks). */
  consents: ConsentCache;
  /** Subject pseudonyms per partner, and the record of whom each stands for. */
  subjects: SubjectRegistry;
  /** Partner calls in flight, abandoned when the consent bus reports a revocation. */
  inflight: InflightCalls;
  /** Per IP, resident, door/gate open, partner client and outbound partner (invariant 7). */
  rateLimits: RateLimits;
  instanceId: string;
  videoMaxSessionsPerResident: number;
  /** The longest a video session runs: a partner that names no end gets this one. */
  videoSessionMaxSeconds: number;
  /** Back-off of the `DELETE`s that end sessions at the partner. */
  videoEndRetry: EndRetry;
  /** Largest face image accepted (decoded bytes). */
  faceMaxImageBytes: number;
}
