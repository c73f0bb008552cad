import type { DatabaseHandle } from "@propgate/consent-audit";
import type { Logger, Metrics } from "@propgate/observability";
import type { ResidentVerifier } from "./auth.ts";
import type { InflightCalls } from "./consent/inflight.ts";
import type { Partners } from "./partners.ts";

/** Long-lived things built once at startup and passed to `createApp`. */
export interface AppDeps {
  database: DatabaseHandle;
  logger: Logger;
  metrics: Metrics;
  verifier: ResidentVerifier;
  partners: Partners;
  /** Partner calls in flight, abandoned when the consent bus reports a revocation. */
  inflight: InflightCalls;
  instanceId: string;
  maxBodyBytes: number;
  videoMaxSessionsPerResident: number;
  /** Largest face image accepted (decoded bytes). */
  faceMaxImageBytes: number;
  /** Serve the dev pages (`/dev/…`): only in development. */
  devPages: boolean;
}
