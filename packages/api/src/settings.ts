import type { KeyObject } from "node:crypto";
import type { RetryBackoff } from "./outbox-pass.ts";

/** What one api instance is told at startup (`startInstance`, from ApiEnv): values, no behaviour. */
export interface AppSettings {
  /** Names this instance on every audit row it writes. */
  instanceId: string;
  video: VideoSettings;
  /** Largest face image accepted (decoded bytes). */
  faceMaxImageBytes: number;
  /** Checks checkpoint signatures in `admin.audit.verify`; null without a signing key. */
  auditVerifyKey: KeyObject | null;
}

export interface VideoSettings {
  maxSessionsPerResident: number;
  /** The longest a video session runs: a partner that names no end gets this one. */
  sessionMaxSeconds: number;
  /** Back-off of the `DELETE`s that end sessions at the partner. */
  endRetry: RetryBackoff;
}
