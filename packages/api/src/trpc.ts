import { type AuditContext, withStatementTimeout } from "@propgate/consent-audit";
import { OPERATIONS } from "@propgate/partner-client/contract";
import { initTRPC, type TRPCError } from "@trpc/server";
import { z } from "zod";
import type { AdminReadLimits } from "./admin/read-limits.ts";
import type { Principal } from "./auth.ts";
import type { AppDeps } from "./deps.ts";
import {
  CausedTRPCError,
  type ErrorCause,
  ForbiddenError,
  toTRPCError,
  UnauthorizedError,
} from "./errors.ts";
import type { PartnerCallScope, ResidentOperation } from "./partner-call/call-partner.ts";
import { enforceRateLimit } from "./rate-limits/enforce.ts";
import type { LimitName } from "./rate-limits/limits.ts";
import type { RequestTiming } from "./timing.ts";

/** What the HTTP layer hands every procedure. */
export interface Context {
  deps: AppDeps;
  requestId: string;
  clientIp: string | null;
  /** The client's address for per-IP rules: the socket's, or X-Forwarded-For from a trusted proxy. */
  clientAddress: string | null;
  authorization: string | null;
  /** Headers the procedures add to the HTTP response (the RateLimit fields). */
  responseHeaders: Headers;
  /** Where the request's time goes (`Server-Timing`), when the app serves it. */
  timing?: RequestTiming;
}

/**
 * The cause of tRPC's own errors (no such procedure, wrong method, unparsable input) that no
 * domain error made.
 */
function ownCause(code: string): ErrorCause {
  switch (code) {
    case "UNAUTHORIZED":
      return { code: "UNAUTHORIZED" };
    case "BAD_REQUEST":
    case "PARSE_ERROR":
      return { code: "INVALID_INPUT" };
    // `GET` on a mutation or `POST` on a query: tRPC answers 405 before any procedure runs.
    case "METHOD_NOT_SUPPORTED":
      return { code: "METHOD_NOT_ALLOWED" };
    case "NOT_FOUND":
      return { code: "NOT_FOUND" };
    default:
      return { code: "INTERNAL" };
  }
}

/**
 * Event streams (`events.onEvent`): a ping every 20 s keeps proxies (30 s in infra/compose) from closing a quiet stream
 * (the server lifts Bun's idle timeout for them) and lets the client see a dead one within 45 s;
 * a stream lasts 15 min at most, since its token was checked only when it opened — the client
 * reconnects with a fresh token and `Last-Event-ID`, missing nothing.
 */
const EVENT_STREAMS = {
  ping: { enabled: true, intervalMs: 20_000 },
  client: { reconnectAfterInactivityMs: 45_000 },
  maxDurationMs: 15 * 60_000,
};

const t = initTRPC.context<Context>().create({
  sse: EVENT_STREAMS,
  errorFormatter({ shape, error, ctx }) {
    const cause = error instanceof CausedTRPCError ? error.propgate : ownCause(error.code);
    // An input that failed its parser; an output that failed `.output()` is INTERNAL, and its
    // issues stay in the log.
    const invalidInput = error.code === "BAD_REQUEST" && error.cause instanceof z.ZodError;
    const zodIssues =
      invalidInput && error.cause instanceof z.ZodError
        ? error.cause.issues
            .slice(0, 10)
            .map((issue) => ({ path: issue.path.join("."), message: issue.message }))
        : undefined;
    return {
      message: invalidInput ? "invalid input" : shape.message,
      code: shape.code,
      data: {
        code: shape.data.code,
        httpStatus: shape.data.httpStatus,
        path: shape.data.path,
        cause,
        requestId: ctx?.requestId ?? null,
        ...(zodIssues ? { issues: zodIssues } : {}),
      },
    };
  },
});

export const router = t.router;

/** A failed `next()`'s error through the one domain → tRPC mapping. */
function mappedError(error: TRPCError): TRPCError {
  return error.code === "INTERNAL_SERVER_ERROR" && error.cause ? toTRPCError(error.cause) : error;
}

/** Every error leaving a procedure goes through the one domain → tRPC mapping. */
const mapErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (result.ok) return result;
  throw mappedError(result.error);
});

export const publicProcedure = t.procedure.use(mapErrors);

/**
 * A signed-in resident (or admin), counted against the per-resident limit. An address block
 * (credential guessing) refuses only requests whose token fails or is missing: many residents
 * may share the address (a carrier's NAT, a building's Wi-Fi, a load balancer), and a valid
 * token is counted against its own resident instead (invariant 7). A partner procedure's
 * `call.admit` runs once the resident is known, before any limit (its block check), and its
 * `call.limit` is counted with the resident's in the same breath: with Redis, one round trip.
 */
async function residentScope(
  ctx: Context,
  call: { limit?: LimitName; admit?: (principal: Principal) => void } = {},
) {
  let principal: Awaited<ReturnType<typeof ctx.deps.verifier.verify>>;
  try {
    principal = await ctx.deps.tracing.leaf("auth.token", {}, () =>
      ctx.deps.verifier.verify(ctx.authorization),
    );
  } catch (error) {
    if (error instanceof UnauthorizedError) {
      // A blocked address learns only that it is blocked, and its tries are not counted again.
      ctx.deps.watch.enforce("ip", ctx.clientAddress);
      ctx.deps.watch.observe("auth_failures", ctx.clientAddress);
    }
    throw error;
  }
  call.admit?.(principal);
  // An admin's screens make several calls a view and refresh themselves: a limit of their own.
  const limit = principal.adminRole === null ? "resident" : "admin";
  await enforceRateLimit(
    ctx.deps.rateLimits,
    ctx.responseHeaders,
    call.limit ? [limit, call.limit] : limit,
    principal.userId,
  );
  // The token vouches for the resident's sites now: the partners' access checks may trust them
  // for a while longer. At most one write per resident per few minutes; a failure only lets the
  // sites age (access checks then deny), so the call goes on.
  await ctx.deps.subjects.confirmSites(principal).catch((error: unknown) => {
    ctx.deps.logger.warn(
      { requestId: ctx.requestId, err: error },
      "could not confirm the resident's sites",
    );
  });
  // Likewise the units: a partner's event for a unit reaches the residents confirmed lately.
  await ctx.deps.units.confirm(principal).catch((error: unknown) => {
    ctx.deps.logger.warn(
      { requestId: ctx.requestId, err: error },
      "could not confirm the resident's units",
    );
  });
  // The request's trace on every row it writes, when traced: an auditor goes from a row to it.
  const traceId = ctx.deps.tracing.traceId();
  const audit: AuditContext = {
    sourceApp: "api",
    instanceId: ctx.deps.settings.instanceId,
    clientIp: ctx.clientIp,
    requestId: ctx.requestId,
    actor: principal.userId,
    ...(traceId ? { traceId } : {}),
  };
  return { principal, audit };
}

export const residentProcedure = publicProcedure.use(async ({ ctx, next }) =>
  next({ ctx: await residentScope(ctx) }),
);

/** A viewer or an operator (invariant 5). */
const adminRoleProcedure = residentProcedure.use(({ ctx, next }) => {
  const role = ctx.principal.adminRole;
  if (role === null) throw new ForbiddenError("an admin role (viewer or operator) is required");
  return next({ ctx: { adminRole: role } });
});

/**
 * The rest of the procedure runs with `ctx.deps.database` on one transaction whose statements
 * are cancelled past the timeout (invariant 8): a slow admin read gives its connection back.
 */
const boundedReads = (timeoutMs: (limits: AdminReadLimits) => number) =>
  t.middleware(({ ctx, next }) =>
    withStatementTimeout(ctx.deps.database, timeoutMs(ctx.deps.adminReads), (database) =>
      next({ ctx: { deps: { ...ctx.deps, database } } }),
    ),
  );

/** The admin api's reads: a viewer or an operator, within ADMIN_READ_STATEMENT_TIMEOUT_MS. */
export const adminReadProcedure = adminRoleProcedure.use(
  boundedReads((limits) => limits.readStatementTimeoutMs),
);

/**
 * The audit export: one at a time per instance (another at once is refused 429 with
 * Retry-After), within ADMIN_AUDIT_STATEMENT_TIMEOUT_MS.
 */
export const adminAuditExportProcedure = adminRoleProcedure
  .use(({ ctx, next }) => ctx.deps.adminReads.exclusive("export", () => next()))
  .use(boundedReads((limits) => limits.auditStatementTimeoutMs));

/**
 * The audit verify: one at a time per instance, like the export. It bounds the statements of
 * its own snapshot transaction (`verifyAuditChain`'s `statementTimeoutMs`).
 */
export const adminAuditVerifyProcedure = adminRoleProcedure.use(({ ctx, next }) =>
  ctx.deps.adminReads.exclusive("verify", () => next()),
);

/** Why an operator acts: required of every admin action, kept on its audit rows. */
export const AdminReason = z.string().trim().min(3).max(500);

/**
 * The admin api's actions: an operator only (a viewer is refused before the input is read),
 * with a `reason` in the input. Every row the action writes carries the admin's id (`actor`)
 * and the reason through `ctx.audit`.
 */
export const adminActProcedure = residentProcedure
  .use(({ ctx, next }) => {
    if (ctx.principal.adminRole !== "operator") {
      throw new ForbiddenError(
        ctx.principal.adminRole === "viewer"
          ? "the viewer role reads only; this action needs the operator role"
          : "the operator role is required",
      );
    }
    return next({ ctx: { adminRole: "operator" as const } });
  })
  .input(z.object({ reason: AdminReason }))
  .use(({ ctx, input, next }) => next({ ctx: { audit: { ...ctx.audit, reason: input.reason } } }));

/**
 * A resident procedure that calls a partner for `operation`: the call scope (who, what for,
 * which operation) is built here once and handed to `callPartner` as `ctx.call`. `limit: "open"`
 * also counts the call against the door/gate open limit, together with the resident's own (one
 * Redis round trip for both), and by the unusual-opening rule even when a limit refuses it. A
 * blocked resident is refused before
 * any partner call, unless `whileBlocked`: what lets a resident read, remove or end what is
 * theirs (a list, a removal, ending their own video session) never turns on them; consent and
 * erasure procedures make no partner call here and take no block at all.
 */
export function partnerProcedure(
  operation: ResidentOperation,
  options: { limit?: LimitName; whileBlocked?: true } = {},
) {
  const purpose = OPERATIONS[operation].purpose;
  /** The resident's scope, then the call's: one middleware, where a chain would hop thrice. */
  async function callScope(ctx: Context) {
    const { principal, audit } = await residentScope(ctx, {
      limit: options.limit,
      // Refused before it is counted or limited; an open over a limit is still observed.
      admit({ userId }) {
        if (!options.whileBlocked) ctx.deps.watch.enforce("resident", userId);
        if (options.limit === "open") ctx.deps.watch.observe("opens", userId);
      },
    });
    const { devices, consents, subjects, auditWriter, inflight, watch, metrics, tracing } =
      ctx.deps;
    const call: PartnerCallScope = {
      services: { devices, consents, subjects, auditWriter, inflight, watch, metrics, tracing },
      principal,
      audit,
      operation,
      purpose,
      timing: ctx.timing,
    };
    return { principal, audit, call };
  }
  // `mapErrors`, `residentProcedure` and the call's scope in one middleware: each tRPC middleware
  // is a hop that copies the context (issue 30), and a door open passes here every time.
  return t.procedure.use(async ({ ctx, next }) => {
    let scope: Awaited<ReturnType<typeof callScope>>;
    try {
      scope = await callScope(ctx);
    } catch (error) {
      throw toTRPCError(error);
    }
    const result = await next({ ctx: scope });
    if (result.ok) return result;
    throw mappedError(result.error);
  });
}
