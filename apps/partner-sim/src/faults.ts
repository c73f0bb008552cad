import { z } from "zod";

export const RESPONSE_MODES = ["normal", "non-json", "bad-schema", "bad-sdp", "hang"] as const;
export type ResponseMode = (typeof RESPONSE_MODES)[number];

/**
 * How the sim speaks. `propgate`: the dialect Propgate was first built against (session at
 * `/v1/sessions/{id}` with `X-Session-Expires-At`, erasure 200 with counts). `standard`: as an
 * independent partner following the standards would (draft-ietf-wish-whep: `Location` at a path
 * of its own, `ETag`, `Accept-Patch`, no lifetime header; erasure `204`; JSON answers carrying
 * fields beyond the contract, `application/json; charset=utf-8`).
 */
export const DIALECTS = ["propgate", "standard"] as const;
export type Dialect = (typeof DIALECTS)[number];

/**
 * Where the authorization server metadata is served: RFC 8414's
 * `/.well-known/oauth-authorization-server`, OpenID Connect discovery's
 * `/.well-known/openid-configuration` (many partners' identity servers serve only that), or both.
 */
export const METADATA_PATHS = ["rfc8414", "oidc", "both"] as const;

/** How an erasure is acknowledged: 200 with counts, 204, or 202 (accepted, erased later). */
export const ERASURE_ANSWERS = ["counts", "no-content", "accepted"] as const;
const nonNegativeInt = (max: number) => z.number().int().min(0).max(max);

/** The whole fault state; `FaultPatch` (every field optional) is what `set` and the admin PUT take. */
export const FaultSettings = z.strictObject({
  /** Delay added before an API call is handled. */
  latencyMs: nonNegativeInt(600_000),
  /** Delay added before a token request is handled. */
  tokenLatencyMs: nonNegativeInt(600_000),
  /** Fraction of API calls that fail with `errorStatus`. */
  errorRate: z.number().min(0).max(1),
  errorStatus: z.union([
    z.literal(400),
    z.literal(404),
    z.literal(409),
    z.literal(422),
    z.literal(429),
    z.literal(500),
    z.literal(502),
    z.literal(503),
  ]),
  /**
   * The `error` field of injected failures; null: the contract's word for the status. Real
   * partners write prose here too (`"plate exists"`), which Propgate must survive.
   */
  errorCode: z.string().min(1).max(200).nullable(),
  /** Sent as `Retry-After` on injected 429 and 503 answers; null sends none. */
  retryAfterSeconds: nonNegativeInt(86_400).nullable(),
  /** The next N API calls fail with `errorStatus`. */
  failNext: nonNegativeInt(1_000_000),
  responseMode: z.enum(RESPONSE_MODES),
  /** The next N API calls with a valid token answer 401 as if that token had been revoked. */
  rejectTokensNext: nonNegativeInt(1_000_000),
  tokenEndpointDown: z.boolean(),
  /** Lifetime of access tokens issued from now on. */
  tokenLifetimeSeconds: z.number().int().min(1).max(86_400),
  /** Lifetime of video sessions created from now on. */
  videoSessionTtlSeconds: z.number().int().min(1).max(86_400),
  /** The next N `subjects.erase` calls answer 503 with `Retry-After: 1`, before any other fault. */
  failErasures: nonNegativeInt(1_000_000),
  dialect: z.enum(DIALECTS),
  /** null: the dialect's own (`counts` in `propgate`, `no-content` in `standard`). */
  erasureAnswer: z.enum(ERASURE_ANSWERS).nullable(),
  /** An accepted (202) erasure reports `done` on its status this long after the DELETE. */
  erasureCompletesAfterMs: nonNegativeInt(30 * 86_400_000),
  /** A broken partner: an accepted erasure stays `pending` for ever (Propgate must alert). */
  erasureNeverCompletes: z.boolean(),
  /** A broken partner: any valid token is taken for any scope (a check must notice). */
  acceptAnyScope: z.boolean(),
  /** A broken partner: `keys.create` answers 201 with a key it never keeps (list never shows it). */
  keysNotStored: z.boolean(),
  /** Where the metadata is served (see `METADATA_PATHS`); elsewhere the path answers 404. */
  metadataAt: z.enum(METADATA_PATHS),
});
export type FaultSettings = z.infer<typeof FaultSettings>;

export const FaultPatch = FaultSettings.partial();
export type FaultPatch = z.infer<typeof FaultPatch>;

export interface InjectedFailure {
  kind: "failNext" | "errorRate";
  status: FaultSettings["errorStatus"];
  retryAfterSeconds: number | null;
  errorCode: string | null;
}

export interface FaultController {
  get(): FaultSettings;
  /** Applies a partial update; throws a `z.ZodError` when it is invalid (nothing changes then). */
  set(patch: FaultPatch): FaultSettings;
  reset(): FaultSettings;
  /** Decides whether this API call fails: `failNext` first (and decremented), then `errorRate`. */
  takeFailure(): InjectedFailure | null;
  /** Whether this valid token is to be treated as revoked (`rejectTokensNext`, decremented). */
  takeTokenRejection(): boolean;
  /** Whether this erasure call fails (`failErasures`, decremented). */
  takeErasureFailure(): boolean;
}

export function createFaultController(
  defaults: { tokenLifetimeSeconds: number; videoSessionTtlSeconds?: number; dialect?: Dialect },
  random: () => number = Math.random,
): FaultController {
  const initial: FaultSettings = FaultSettings.parse({
    latencyMs: 0,
    tokenLatencyMs: 0,
    errorRate: 0,
    errorStatus: 503,
    errorCode: null,
    retryAfterSeconds: null,
    failNext: 0,
    rejectTokensNext: 0,
    responseMode: "normal",
    tokenEndpointDown: false,
    tokenLifetimeSeconds: defaults.tokenLifetimeSeconds,
    videoSessionTtlSeconds: defaults.videoSessionTtlSeconds ?? 300,
    failErasures: 0,
    dialect: defaults.dialect ?? "propgate",
    erasureAnswer: null,
    erasureCompletesAfterMs: 0,
    erasureNeverCompletes: false,
    acceptAnyScope: false,
    keysNotStored: false,
    metadataAt: "rfc8414",
  });
  let state: FaultSettings = { ...initial };

  return {
    get: () => ({ ...state }),
    set(patch) {
      const checked = FaultPatch.parse(patch);
      state = { ...state, ...checked };
      return { ...state };
    },
    reset() {
      state = { ...initial };
      return { ...state };
    },
    takeTokenRejection() {
      if (state.rejectTokensNext <= 0) return false;
      state.rejectTokensNext -= 1;
      return true;
    },
    takeErasureFailure() {
      if (state.failErasures <= 0) return false;
      state.failErasures -= 1;
      return true;
    },
    takeFailure() {
      const base = {
        status: state.errorStatus,
        retryAfterSeconds: state.retryAfterSeconds,
        errorCode: state.errorCode,
      };
      if (state.failNext > 0) {
        state.failNext -= 1;
        return { kind: "failNext", ...base };
      }
      if (state.errorRate > 0 && random() < state.errorRate) return { kind: "errorRate", ...base };
      return null;
    },
  };
}

/** One readable line out of a zod error: `field: problem; field: problem`. */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "body"}: ${issue.message}`)
    .join("; ");
}
