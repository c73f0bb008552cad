import type { DatabaseHandle } from "@propgate/consent-audit";
import type { Logger, Metrics } from "@propgate/observability";
import type { ResidentVerifier } from "./auth.ts";
import type { InflightCalls } from "./consent/inflight.ts";
import type { Partners } from "./partners.ts";
import type { ClientAddressResolver } from "./rate-limit/client-address.ts";
import type { RateLimits } from "./rate-limit/limits.ts";

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
  /** Per IP, resident, door/gate open, partner client and outbound partner (DESIGN inv. 7). */
  rateLimits: RateLimits;
  /** The address the per-IP limit counts (the socket peer, or X-Forwarded-For via a trusted proxy). */
  rateLimitAddress: ClientAddressResolver;
}
