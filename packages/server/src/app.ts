import {
  type AppDeps,
  type AppSettings,
  appRouter,
  causeOfTRPCError,
  type RedisConnection,
  RequestTiming,
  rateLimitMiddleware,
  refusalMessage,
  residentApiDocument,
  trpcErrorEnvelope,
} from "@propgate/api";
import { checkReadiness } from "@propgate/consent-audit";
import { acceptOrCreateRequestId } from "@propgate/observability";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { getConnInfo } from "hono/bun";
import type { ClientAddressResolver } from "./client-address.ts";

export interface ServerSettings extends AppSettings {
  /** Largest request body but a face photo's (MAX_BODY_BYTES). */
  maxBodyBytes: number;
}

/** What the HTTP layer needs beyond what the procedures need. */
export interface ServerDeps extends AppDeps {
  settings: ServerSettings;
  /** Set when the instance is shutting down: `/readyz` answers 503 so a load balancer drains it. */
  lifecycle: { draining: boolean };
  /** The address the per-IP limit counts (the socket peer, or X-Forwarded-For via a trusted proxy). */
  rateLimitAddress: ClientAddressResolver;
  /** The one Redis connection (REDIS_URL) of `rateLimits` and `watch`; the instance closes it. */
  redis: RedisConnection | null;
}

export type HttpEnv = {
  Variables: { requestId: string; clientIp: string | null; timing: RequestTiming | undefined };
};

export interface CreateAppOptions {
  /** Extra routes mounted before tRPC (the embedded default's dev pages). */
  mount?: (app: Hono<HttpEnv>) => void;
  /** Serve the resident api's OpenAPI document at `/openapi.json` (outside production only). */
  serveOpenApi?: boolean;
  /** Answer every tRPC call with `Server-Timing` (`RequestTiming`; outside production only). */
  serverTiming?: boolean;
}

const PROCEDURES: ReadonlySet<string> = new Set(Object.keys(appRouter._def.procedures));

/**
 * The `route` label of the HTTP metrics: a procedure's path, or the pattern of the route that
 * answered; anything else (unknown procedures, 404s) is `other`, so no request can add series.
 */
function routeLabel(
  path: string,
  status: number,
  matched: readonly { path: string; method: string }[],
): string {
  if (path.startsWith("/trpc/")) return PROCEDURES.has(path.slice(6)) ? path : "/trpc/other";
  if (status === 404) return "other";
  // The handler that answered: the last matched route that is not a middleware (`ALL`).
  const handler = matched.findLast((route) => route.method !== "ALL");
  return handler?.path ?? "other";
}

/** The api as a Hono app, not listening: tests call `app.request()` or serve it on port 0. */
export function createApp(deps: ServerDeps, options: CreateAppOptions = {}) {
  const app = new Hono<HttpEnv>();

  app.use(async (c, next) => {
    const started = performance.now();
    const requestId = acceptOrCreateRequestId(c.req.header("x-request-id"));
    c.set("requestId", requestId);
    let clientIp: string | null = null;
    try {
      clientIp = getConnInfo(c).remote.address ?? null;
    } catch {
      clientIp = null; // no socket: an in-process app.request() in tests
    }
    c.set("clientIp", clientIp);
    const timing =
      options.serverTiming && c.req.path.startsWith("/trpc/") ? new RequestTiming() : undefined;
    c.set("timing", timing);
    await next();
    c.header("x-request-id", requestId);
    if (timing) c.header("server-timing", timing.header());
    const route = routeLabel(c.req.path, c.res.status, c.req.matchedRoutes);
    const seconds = (performance.now() - started) / 1000;
    deps.metrics.httpRequests.inc({ method: c.req.method, route, status: String(c.res.status) });
    deps.metrics.httpDuration.observe({ method: c.req.method, route }, seconds);
    deps.logger.info(
      {
        requestId,
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round(seconds * 1000),
        ip: clientIp,
      },
      "request",
    );
  });

  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    if (deps.lifecycle.draining) return c.json({ status: "draining" }, 503);
    // A database that does not answer within a second is as good as down: the driver would
    // otherwise hold the probe until its connect timeout, and the load balancer sees nothing.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const readiness = await Promise.race([
      checkReadiness(deps.database).catch(() => ({
        ok: false as const,
        reason: "database unreachable",
      })),
      new Promise<{ ok: false; reason: string }>((resolve) => {
        timer = setTimeout(
          () => resolve({ ok: false, reason: "database unreachable: no answer within 1 s" }),
          1000,
        );
      }),
    ]);
    clearTimeout(timer);
    if (readiness.ok) return c.json({ status: "ready" });
    deps.logger.warn({ reason: readiness.reason }, "not ready");
    // The detail stays in the log; the public answer names only the kind of problem.
    return c.json({ status: "not_ready", reason: readiness.reason.split(":")[0] }, 503);
  });

  if (options.serveOpenApi) {
    // For app developers on a dev stack; production's is docs/openapi/resident-api.json.
    app.get("/openapi.json", (c) => {
      c.header("cache-control", "no-store");
      return c.json(residentApiDocument());
    });
  }
  options.mount?.(app);

  // Per client IP, before authentication and before a body is read.
  app.use(
    "/trpc/*",
    rateLimitMiddleware<HttpEnv>({
      rateLimits: deps.rateLimits,
      limit: "ip",
      key: (c) => deps.rateLimitAddress(c.get("clientIp"), c.req.header("x-forwarded-for")),
      refusal: (c, decision) =>
        trpcErrorEnvelope({
          code: "TOO_MANY_REQUESTS",
          httpStatus: 429,
          message: refusalMessage(decision),
          cause: { code: "RATE_LIMITED", retryAfterSeconds: decision.resetSeconds },
          requestId: c.get("requestId"),
        }),
    }),
  );
  // Face photos are the one large input; everything else stays small.
  const limitBodies = (maxSize: number) =>
    bodyLimit({
      maxSize,
      onError: (c) =>
        c.json(
          trpcErrorEnvelope({
            code: "BAD_REQUEST",
            httpStatus: 400,
            message: `request body larger than ${maxSize} bytes`,
            cause: { code: "INVALID_INPUT" },
            requestId: c.get("requestId"),
          }),
          400,
        ),
    });
  const faceBodies = limitBodies(Math.ceil((deps.settings.faceMaxImageBytes * 4) / 3) + 1024);
  const smallBodies = limitBodies(deps.settings.maxBodyBytes);
  app.use("/trpc/*", (c, next) =>
    (c.req.path === "/trpc/faces.enroll" ? faceBodies : smallBodies)(c, next),
  );
  app.all("/trpc/*", (c) => {
    const responseHeaders = new Headers();
    return fetchRequestHandler({
      endpoint: "/trpc",
      req: c.req.raw,
      router: appRouter,
      allowBatching: false,
      createContext: () => ({
        deps,
        requestId: c.get("requestId"),
        clientIp: c.get("clientIp"),
        clientAddress: deps.rateLimitAddress(c.get("clientIp"), c.req.header("x-forwarded-for")),
        authorization: c.req.header("authorization") ?? null,
        responseHeaders,
        timing: c.get("timing"),
      }),
      responseMeta: ({ errors }) => {
        // A refusal that says when to come back says it as `Retry-After` too (RFC 9110
        // §10.2.3), for clients that read the header and not the body; a rate limit set it.
        const retryAfter = errors
          .map((error) => causeOfTRPCError(error)?.retryAfterSeconds)
          .find((seconds) => seconds !== undefined);
        if (retryAfter !== undefined && !responseHeaders.has("retry-after"))
          responseHeaders.set("retry-after", String(retryAfter));
        return { headers: responseHeaders };
      },
      onError({ error, path }) {
        if (causeOfTRPCError(error)?.code === "UNAVAILABLE") {
          deps.logger.error(
            { requestId: c.get("requestId"), path, err: error.cause ?? error },
            "database unavailable",
          );
        } else if (error.code === "INTERNAL_SERVER_ERROR") {
          deps.logger.error(
            { requestId: c.get("requestId"), path, err: error.cause ?? error },
            "procedure failed",
          );
        }
      },
    });
  });

  app.notFound((c) =>
    c.json(
      { error: { code: "NOT_FOUND", message: "no such route", requestId: c.get("requestId") } },
      404,
    ),
  );
  app.onError((error, c) => {
    deps.logger.error({ requestId: c.get("requestId"), err: error }, "unhandled error");
    return c.json(
      { error: { code: "INTERNAL", message: "internal error", requestId: c.get("requestId") } },
      500,
    );
  });
  return app;
}
