import {
  type AppDeps,
  type AppSettings,
  AUDIT_KEYS_PATH,
  addResponseHeaders,
  appRouter,
  auditKeysJwks,
  causeOfTRPCError,
  type RedisConnection,
  RequestTiming,
  rateLimitMiddleware,
  refusalMessage,
  residentApiDocument,
  trpcErrorEnvelope,
} from "@propgate/api";
import { checkReadiness } from "@propgate/consent-audit";
import { acceptOrCreateRequestId, type Span, SpanStatusCode } from "@propgate/observability";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { type Context, Hono, type Next } from "hono";
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
  Variables: {
    requestId: string;
    clientIp: string | null;
    timing: RequestTiming | undefined;
    /** The request's server span (a no-op one when tracing is off). */
    span: Span | undefined;
  };
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
/** The paths answered by a Server-Sent Events stream. */
const SUBSCRIPTIONS: ReadonlySet<string> = new Set(
  Object.entries(appRouter._def.procedures as unknown as Record<string, { _def: { type: string } }>)
    .filter(([, procedure]) => procedure._def.type === "subscription")
    .map(([path]) => `/trpc/${path}`),
);

/**
 * Bun ends a response that writes nothing for its idle timeout (10 s): an event stream pings
 * every 20 s instead (trpc.ts), so its request gets no idle timeout. `server` is Bun's, as
 * `Bun.serve` hands it to `app.fetch`; absent in an in-process `app.request()`.
 */
function liftIdleTimeout(server: unknown, request: Request): void {
  const bun = server as { timeout?: (request: Request, seconds: number) => void } | undefined;
  if (typeof bun?.timeout === "function") bun.timeout(request, 0);
}

/**
 * The `route` label of the HTTP metrics: a procedure's path, or the pattern of the route that
 * answered; anything else (unknown procedures, 404s) is `other`, so no request can add series.
 */
function routeLabel(
  path: string,
  status: number,
  matched: () => readonly { path: string; method: string }[],
): string {
  if (path.startsWith("/trpc/")) return PROCEDURES.has(path.slice(6)) ? path : "/trpc/other";
  if (status === 404) return "other";
  // The handler that answered: the last matched route that is not a middleware (`ALL`). Hono
  // builds the list on every read: a procedure's label (above) never reads it.
  const handler = matched().findLast((route) => route.method !== "ALL");
  return handler?.path ?? "other";
}

/** A load balancer's probes: answered, counted and logged, but no trace of their own. */
const UNTRACED_PATHS: ReadonlySet<string> = new Set(["/healthz", "/readyz"]);

/**
 * The server span's name: `trpc <procedure>` for a known procedure, else set from the route
 * once it answered — never a raw path, which may hold ids.
 */
function spanName(method: string, path: string): string {
  if (!path.startsWith("/trpc/")) return method;
  return `trpc ${PROCEDURES.has(path.slice(6)) ? path.slice(6) : "other"}`;
}

/** The log line's `traceId`, only when the request is traced. */
const traceField = (traceId: string | null) => (traceId ? { traceId } : {});

/** The api as a Hono app, not listening: tests call `app.request()` or serve it on port 0. */
export function createApp(deps: ServerDeps, options: CreateAppOptions = {}) {
  const app = new Hono<HttpEnv>();

  /**
   * The rest of the request, then its headers, metrics and log line; the route label it was
   * counted under. Inside the request's span, when it has one.
   */
  async function observed(c: Context<HttpEnv>, next: Next): Promise<string> {
    const started = performance.now();
    const requestId = c.get("requestId");
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
    addResponseHeaders(
      c,
      timing
        ? [
            ["x-request-id", requestId],
            ["server-timing", timing.header()],
          ]
        : [["x-request-id", requestId]],
    );
    const { method, path } = c.req;
    const status = c.res.status;
    const route = routeLabel(path, status, () => c.req.matchedRoutes);
    const seconds = (performance.now() - started) / 1000;
    deps.metrics.httpRequests.inc({ method, route, status: String(status) });
    deps.metrics.httpDuration.observe({ method, route }, seconds);
    deps.logger.info(
      {
        requestId,
        method,
        path,
        status,
        ms: Math.round(seconds * 1000),
        ip: clientIp,
        ...traceField(deps.tracing.traceId()),
      },
      "request",
    );
    return route;
  }

  // The request id, then a server span per request (hand-wired: @hono/otel records the full URL,
  // query included, and names every call `/trpc/*`), the child of the caller's `traceparent` when
  // it sends one, with the request observed inside it: one middleware, where two would hop twice.
  app.use(async (c, next) => {
    const requestId = acceptOrCreateRequestId(c.req.header("x-request-id"));
    c.set("requestId", requestId);
    const { method, path } = c.req;
    if (UNTRACED_PATHS.has(path)) {
      await observed(c, next);
      return;
    }
    const name = spanName(method, path);
    const procedure = path.startsWith("/trpc/") ? name.slice(5) : null;
    await deps.tracing.serverSpan(
      name,
      c.req.raw.headers,
      {
        "http.request.method": method,
        "propgate.request_id": requestId,
        ...(procedure ? { "rpc.system": "trpc", "rpc.method": procedure } : {}),
      },
      async (span) => {
        c.set("span", span);
        const route = await observed(c, next);
        if (!procedure) span.updateName(`${method} ${route}`);
        span.setAttribute("http.route", route);
        span.setAttribute("http.response.status_code", c.res.status);
        if (c.res.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      },
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

  // The public audit key, for verifying consent receipts offline (docs/api.md).
  app.get(AUDIT_KEYS_PATH, (c) => {
    c.header("cache-control", "public, max-age=300");
    return c.json(auditKeysJwks(deps.settings.auditVerifyKey));
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
    if (SUBSCRIPTIONS.has(c.req.path)) liftIdleTimeout(c.env, c.req.raw);
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
        const cause = causeOfTRPCError(error)?.code;
        if (cause) c.get("span")?.setAttribute("propgate.cause_code", cause);
        if (cause === "UNAVAILABLE") {
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
