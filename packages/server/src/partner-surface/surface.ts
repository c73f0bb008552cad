import { type RateLimits, rateLimitMiddleware, refusalMessage } from "@propgate/api";
import { acceptOrCreateRequestId } from "@propgate/observability";
import { type Context, type Env, Hono, type MiddlewareHandler } from "hono";
import { createCidrMatcher } from "../net/cidr.ts";
import { accessCheckRoutes } from "./access-checks.ts";
import type { PartnerSurfaceConfig, PartnerSurfaceSettings } from "./config.ts";
import {
  enforceSurfaceBlock,
  type PartnerSurface,
  type PartnerSurfaceDeps,
  type SurfaceEnv,
} from "./context.ts";
import {
  OAuthError,
  type OAuthErrorBody,
  PartnerSurfaceError,
  type RateLimitedBody,
  type SurfaceErrorBody,
} from "./errors.ts";
import { eventRoutes } from "./events.ts";
import { tokenRoutes } from "./oauth-token.ts";
import { createPartnerTokens } from "./tokens.ts";
import { createVerificationSlots } from "./verification-slots.ts";

const REQUEST_TYPES: Record<string, string> = {
  "/oauth/token": "oauth.token",
  "/partner/v1/access-checks": "access_check",
  "/partner/v1/events": "event",
};

/**
 * The partner surface as a Hono app, not listening. Every request is first judged by the socket's
 * peer address (`bindings.peerAddress`, set by `servePartnerSurface`; forwarded headers are never
 * read): outside `allowedCidrs` it is refused with 403 and counted as an anomaly. Every request
 * gets one log line with its peer address, type, status and request id.
 */
export function createPartnerSurface(deps: PartnerSurfaceDeps, settings: PartnerSurfaceSettings) {
  const logger = deps.logger.child({ surface: "partner" });
  const rateLimit: MiddlewareHandler<SurfaceEnv> = deps.rateLimits
    ? partnerClientRateLimit<SurfaceEnv>(deps.rateLimits, {
        clientId: (c) => c.get("client")?.clientId,
        requestId: (c) => c.get("requestId"),
      })
    : (_c, next) => next();
  const clients = new Map(
    settings.clients.map((client) => [
      client.clientId,
      { client, from: createCidrMatcher(client.addresses) },
    ]),
  );
  const surface: PartnerSurface = {
    deps: { ...deps, logger },
    tokens: createPartnerTokens({
      signingKey: settings.signingKey,
      ttlSeconds: settings.tokenTtlSeconds,
    }),
    clientAt: (clientId, peer) => {
      const found = clients.get(clientId);
      return found?.from(peer) ? found.client : undefined;
    },
    maxBodyBytes: settings.maxBodyBytes ?? 16 * 1024,
    verifications: createVerificationSlots(
      {
        concurrency: settings.maxConcurrentVerifications ?? 2,
        queue: settings.verificationQueue ?? 8,
      },
      deps.metrics,
    ),
    sitesMaxAgeSeconds: settings.sitesMaxAgeSeconds ?? 3600,
    residentEvents: {
      unitMembershipMaxAgeSeconds: settings.unitMembershipMaxAgeSeconds ?? 30 * 86_400,
      webhookOutbox: settings.webhookOutbox ?? false,
    },
    // A blocked client is refused before its limit is counted.
    limitClient: async (c, next) => {
      enforceSurfaceBlock(surface, "partner_client", c.get("client")?.clientId);
      return rateLimit(c, next);
    },
  };
  const allowed = createCidrMatcher(settings.allowedCidrs);
  const app = new Hono<SurfaceEnv>();

  app.use(async (c, next) => {
    const started = performance.now();
    const requestId = acceptOrCreateRequestId(c.req.header("x-request-id"));
    const peer = c.env?.peerAddress ?? null;
    const type = REQUEST_TYPES[c.req.path] ?? "other";
    c.set("requestId", requestId);
    c.set("peer", peer);
    const inside = allowed(peer);
    if (inside) {
      await next();
    } else {
      deps.metrics.partnerSurfaceRefused.inc({ reason: "outside_allowlist" });
      deps.watch?.observe("outside_vpn", peer ?? "(unknown)");
      c.res = c.json(
        {
          error: {
            code: "FORBIDDEN",
            message: "this address may not use the partner surface",
            requestId,
          },
        } satisfies SurfaceErrorBody,
        403,
      );
    }
    c.header("x-request-id", requestId);
    const client = c.get("client");
    const line = {
      requestId,
      ip: peer,
      type,
      method: c.req.method,
      path: type === "other" ? c.req.path.slice(0, 200) : c.req.path,
      status: c.res.status,
      ms: Math.round(performance.now() - started),
      ...(client ? { clientId: client.clientId, partner: client.partner } : {}),
      ...c.get("logDetail"),
    };
    if (inside) logger.info(line, "partner request");
    else logger.warn({ ...line, refused: "outside_allowlist" }, "partner request refused");
  });

  app.route("/oauth", tokenRoutes(surface));
  app.route("/partner/v1", accessCheckRoutes(surface));
  app.route("/partner/v1", eventRoutes(surface));

  app.notFound((c) =>
    c.json(
      {
        error: { code: "NOT_FOUND", message: "no such route", requestId: c.get("requestId") },
      } satisfies SurfaceErrorBody,
      404,
    ),
  );
  app.onError((error, c) => {
    const requestId = c.get("requestId");
    if (error instanceof OAuthError) {
      const headers: Record<string, string> = {
        ...error.headers,
        "cache-control": "no-store",
        pragma: "no-cache",
      };
      if (error.status === 401) headers["www-authenticate"] = 'Basic realm="propgate-partner"';
      return c.json(
        { error: error.error, error_description: error.description } satisfies OAuthErrorBody,
        error.status,
        headers,
      );
    }
    if (error instanceof PartnerSurfaceError) {
      return c.json(
        {
          error: { code: error.code, message: error.message, requestId },
        } satisfies SurfaceErrorBody,
        error.status,
        error.headers,
      );
    }
    logger.error({ requestId, err: error }, "partner surface request failed");
    return c.json(
      {
        error: { code: "INTERNAL", message: "internal error", requestId },
      } satisfies SurfaceErrorBody,
      500,
    );
  });
  return app;
}

export interface RunningPartnerSurface {
  url: string;
  stop(): Promise<void>;
}

/**
 * Serves the partner surface with Bun on `config.listen` (the VPN address in production), handing
 * each request the socket's peer address for the allow-list.
 */
export function servePartnerSurface(
  deps: PartnerSurfaceDeps,
  config: PartnerSurfaceConfig,
): RunningPartnerSurface {
  const app = createPartnerSurface(deps, config);
  const server = Bun.serve({
    hostname: config.listen.hostname,
    port: config.listen.port,
    maxRequestBodySize: 256 * 1024,
    fetch: (request, bunServer) =>
      app.fetch(request, { peerAddress: bunServer.requestIP(request)?.address ?? null }),
  });
  const host = server.hostname?.includes(":") ? `[${server.hostname}]` : server.hostname;
  return {
    url: `http://${host}:${server.port}`,
    async stop() {
      await server.stop(true);
    },
  };
}

/**
 * The per-partner-client limit of the partner surface: mount it after the partner's token is
 * verified, with `clientId` reading the verified client id. Refusals have the one HTTP error
 * shape `{ error: { code: "RATE_LIMITED", message, requestId, retryAfterSeconds } }`.
 */
export function partnerClientRateLimit<E extends Env>(
  rateLimits: RateLimits,
  options: {
    clientId: (c: Context<E>) => string | null | undefined;
    requestId?: (c: Context<E>) => string | null | undefined;
  },
): MiddlewareHandler<E> {
  return rateLimitMiddleware<E>({
    rateLimits,
    limit: "partner_client",
    key: options.clientId,
    refusal: (c, decision) =>
      ({
        error: {
          code: "RATE_LIMITED",
          message: refusalMessage(decision),
          requestId: options.requestId?.(c) ?? null,
          retryAfterSeconds: decision.resetSeconds,
        },
      }) satisfies RateLimitedBody,
  });
}
