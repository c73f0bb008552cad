import type { PartnerSettings } from "@propgate/config";
import type { Logger, Metrics, Tracing } from "@propgate/observability";
import {
  barrierOperations,
  createPartnerClient,
  createPartnerFetch,
  createPartnerTokenSource,
  facesOperations,
  intercomOperations,
  keysOperations,
  type PartnerClient,
  platesOperations,
  subjectOperations,
  videoOperations,
} from "@propgate/partner-client";

export interface PartnerRuntime {
  client: PartnerClient;
  subjectKey: Uint8Array;
  video: ReturnType<typeof videoOperations>;
  plates: ReturnType<typeof platesOperations>;
  faces: ReturnType<typeof facesOperations>;
  subjects: ReturnType<typeof subjectOperations>;
}

export interface Partners {
  intercom: PartnerRuntime & {
    ops: ReturnType<typeof intercomOperations>;
    /** Guest keys: doors at entrance panels are the intercom's. */
    keys: ReturnType<typeof keysOperations>;
  };
  barrier: PartnerRuntime & { ops: ReturnType<typeof barrierOperations> };
}

export interface PartnerTuning {
  maxAttempts?: number;
  breakerThreshold?: number;
  breakerHalfOpenAfterMs?: number;
  maxRetryAfterMs?: number;
  tokenBackoffInitialMs?: number;
}

interface PartnersDeps {
  metrics: Metrics;
  logger: Logger;
  tracing?: Tracing;
  allowInsecureLoopback: boolean;
  tuning?: PartnerTuning;
  /** Runs before every request to the partner; throwing stops it (the outbound rate limit). */
  beforeSend?: (partner: string) => Promise<void>;
}

/** Built once at startup: one token source, breaker and fetch per partner. */
function createRuntime(settings: PartnerSettings, deps: PartnersDeps): PartnerRuntime {
  const { beforeSend } = deps;
  const fetch = createPartnerFetch(settings);
  const tokenSource = createPartnerTokenSource(settings, {
    fetch,
    allowInsecureLoopback: deps.allowInsecureLoopback,
    requestTimeoutMs: settings.timeoutMs,
    backoffInitialMs: deps.tuning?.tokenBackoffInitialMs,
    metrics: deps.metrics,
    logger: deps.logger,
    tracing: deps.tracing,
  });
  const client = createPartnerClient({
    name: settings.name,
    baseUrl: settings.baseUrl,
    tokenSource,
    fetch,
    timeoutMs: settings.timeoutMs,
    maxAttempts: deps.tuning?.maxAttempts,
    breakerThreshold: deps.tuning?.breakerThreshold,
    breakerHalfOpenAfterMs: deps.tuning?.breakerHalfOpenAfterMs,
    maxRetryAfterMs: deps.tuning?.maxRetryAfterMs,
    beforeSend: beforeSend && (() => beforeSend(settings.name)),
    metrics: deps.metrics,
    logger: deps.logger,
    tracing: deps.tracing,
  });
  return {
    client,
    subjectKey: settings.subjectKey,
    video: videoOperations(client),
    plates: platesOperations(client),
    faces: facesOperations(client),
    subjects: subjectOperations(client),
  };
}

export function createPartners(
  settings: { intercom: PartnerSettings; barrier: PartnerSettings },
  deps: PartnersDeps,
): Partners {
  const intercom = createRuntime(settings.intercom, deps);
  const barrier = createRuntime(settings.barrier, deps);
  return {
    intercom: {
      ...intercom,
      ops: intercomOperations(intercom.client),
      keys: keysOperations(intercom.client),
    },
    barrier: { ...barrier, ops: barrierOperations(barrier.client) },
  };
}
