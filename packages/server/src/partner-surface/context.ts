import { type AppDeps, secondsLeft } from "@propgate/api";
import type { AuditContext } from "@propgate/consent-audit";
import type { Context, MiddlewareHandler } from "hono";
import type { PartnerClientRecord } from "./config.ts";
import { PartnerSurfaceError } from "./errors.ts";
import type { ResidentEventSettings } from "./resident-events.ts";
import type { PartnerTokenClaims, PartnerTokens } from "./tokens.ts";
import type { VerificationSlots } from "./verification-slots.ts";

/**
 * What the partner surface needs of an api instance: no resident verifier, no partner clients.
 * With `rateLimits`, each partner client is limited (RATE_LIMIT_PARTNER_CLIENT_PER_MINUTE), and
 * token requests per peer and per client id (RATE_LIMIT_PARTNER_TOKEN_*); with `watch`, the
 * anomaly rules count its checks and failed sign-ins, and its blocks are enforced.
 */
export type PartnerSurfaceDeps = Pick<AppDeps, "database" | "logger" | "metrics"> & {
  instanceId: string;
} & Partial<Pick<AppDeps, "rateLimits" | "watch">>;

/** Per-request values the server hands to the app (`app.fetch(req, bindings)`). */
export interface PartnerSurfaceBindings {
  /** The socket's peer address (`server.requestIP(req)`); absent → the request is refused. */
  peerAddress?: string | null;
}

export type SurfaceEnv = {
  Bindings: PartnerSurfaceBindings;
  Variables: {
    requestId: string;
    peer: string | null;
    /** The authenticated partner client, for logs and audit. */
    client: Pick<PartnerTokenClaims, "clientId" | "partner" | "scopes"> | undefined;
    /** Extra fields for the request's log line (no personal data). */
    logDetail: Record<string, string> | undefined;
  };
};

export type SurfaceContext = Context<SurfaceEnv>;

/** Long-lived parts of one partner surface, built by `createPartnerSurface`. */
export interface PartnerSurface {
  deps: PartnerSurfaceDeps;
  tokens: PartnerTokens;
  /**
   * The registered client `clientId`, if `peer` is one of its addresses; undefined otherwise,
   * as for an id nobody registered (a client id is no secret; its address is the second factor).
   */
  clientAt(clientId: string, peer: string | null): PartnerClientRecord | undefined;
  maxBodyBytes: number;
  /** The per-partner-client rate limit, mounted after the token check. */
  limitClient: MiddlewareHandler<SurfaceEnv>;
  /** The cap on concurrent secret verifications at the token endpoint. */
  verifications: VerificationSlots;
  /** Access checks deny a subject whose sites were confirmed longer ago than this. */
  sitesMaxAgeSeconds: number;
  /** How partner events reach residents' journals. */
  residentEvents: ResidentEventSettings;
}

/** Audit rows written on behalf of a partner client carry its id as the actor. */
export function partnerAudit(surface: PartnerSurface, c: SurfaceContext): AuditContext {
  const client = c.get("client");
  return {
    sourceApp: "api",
    instanceId: surface.deps.instanceId,
    clientIp: c.get("peer"),
    requestId: c.get("requestId"),
    actor: client ? `partner:${client.clientId}` : null,
  };
}

/** 403 BLOCKED, in the surface's error shape, when the partner client or peer is blocked now. */
export function enforceSurfaceBlock(
  surface: PartnerSurface,
  subjectType: "partner_client" | "ip",
  subjectId: string | null | undefined,
): void {
  const block = surface.deps.watch?.blocks.check(subjectType, subjectId);
  if (!block) return;
  throw new PartnerSurfaceError(
    403,
    "BLOCKED",
    "blocked for a while after unusual activity; try again later",
    { "retry-after": String(secondsLeft(block.expiresAt)) },
  );
}
