import type { KeyObject } from "node:crypto";
import type { RetryBackoff } from "./outbox-pass.ts";

/** What one api instance is told at startup (`startInstance`, from ApiEnv): values, no behaviour. */
export interface AppSettings {
  /** Names this instance on every audit row it writes. */
  instanceId: string;
  video: VideoSettings;
  guestKeys: GuestKeySettings;
  /** Largest face image accepted (decoded bytes). */
  faceMaxImageBytes: number;
  /** Checks checkpoint signatures in `admin.audit.verify`; null without a signing key. */
  auditVerifyKey: KeyObject | null;
  /** DESTRUCTION_RECORD_YEARS: how long a destruction record is kept (its `keepUntil`). */
  destructionRecordYears: number;
  /** The push relay to tenant-core; null when `EVENTS_WEBHOOK_URL` is unset (no outbox rows). */
  eventsWebhook: EventsWebhookSettings | null;
}

/** Guest keys a resident issues at the intercom partner. */
export interface GuestKeySettings {
  /** The longest a key may be valid, `validUntil - validFrom`, in hours. */
  maxHours: number;
  /** Active keys one resident may hold at once. */
  maxActive: number;
}

export interface VideoSettings {
  maxSessionsPerResident: number;
  /** The longest a video session runs: a partner that names no end gets this one. */
  sessionMaxSeconds: number;
  /** Back-off of the `DELETE`s that end sessions at the partner. */
  endRetry: RetryBackoff;
}

/** Where and how resident events are relayed as Standard Webhooks (docs/configuration.md). */
export interface EventsWebhookSettings {
  url: URL;
  /** `whsec_<base64>`, as the `standardwebhooks` library takes it. */
  secret: string;
  /** How often each instance looks at the outbox. */
  intervalMs: number;
  /** Deadline of one delivery. */
  timeoutMs: number;
  /** An undelivered event older than this counts as overdue (the alert). */
  overdueSeconds: number;
  /** How long a failing message holds back its resident's later ones. */
  orderHoldSeconds: number;
  retry: RetryBackoff;
}
