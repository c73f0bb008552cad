import type { AuditContext } from "@propgate/consent-audit";
import { initTRPC } from "@trpc/server";
import { z } from "zod";
import type { Principal } from "../auth.ts";
import type { AppDeps } from "../deps.ts";
import { CausedTRPCError, type ErrorCause, toTRPCError } from "../errors.ts";
import { enforceRateLimit } from "../rate-limit/procedure.ts";

export interface Context {
  deps: AppDeps;
  requestId: string;
  clientIp: string | null;
  authorization: string | null;
  /** Headers the procedures add to the HTTP response (the RateLimit fields). */
  responseHeaders: Headers;
}

const t = initTRPC.context<Context>().create({
  errorFormatter({ shape, error, ctx }) {
    const cause: ErrorCause =
      error instanceof CausedTRPCError
        ? error.propgate
        : error.code === "UNAUTHORIZED"
          ? { code: "UNAUTHORIZED" }
          : error.code === "BAD_REQUEST" || error.code === "PARSE_ERROR"
            ? { code: "INVALID_INPUT" }
            : { code: "INTERNAL" };
    const zodIssues =
      error.cause instanceof z.ZodError
        ? error.cause.issues
            .slice(0, 10)
            .map((issue) => ({ path: issue.path.join("."), message: issue.message }))
        : undefined;
    return {
      message: error.cause instanceof z.ZodError ? "invalid input" : shape.message,
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

/** What a resident procedure sees: the request context plus who is calling. */
export type ResidentContext = Context & { principal: Principal; audit: AuditContext };

export const router = t.router;

/** Maps every error leaving a procedure through the one domain → tRPC mapping. */
const mapErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (result.ok) return result;
  const error = result.error;
  throw error.code === "INTERNAL_SERVER_ERROR" && error.cause ? toTRPCError(error.cause) : error;
});

export const publicProcedure = t.procedure.use(mapErrors);

export const residentProcedure = publicProcedure.use(async ({ ctx, next }) => {
  let principal: Principal;
  try {
    principal = await ctx.deps.verifier.verify(ctx.authorization);
  } catch (error) {
    if (error instanceof Error && (error as { code?: string }).code === "UNAUTHORIZED") {
      throw new CausedTRPCError("UNAUTHORIZED", error.message, { code: "UNAUTHORIZED" });
    }
    throw error;
  }
  await enforceRateLimit(ctx.deps.rateLimits, ctx.responseHeaders, "resident", principal.userId);
  const audit: AuditContext = {
    sourceApp: "api",
    instanceId: ctx.deps.instanceId,
    clientIp: ctx.clientIp,
    requestId: ctx.requestId,
    actor: principal.userId,
  };
  return next({ ctx: { principal, audit } });
});

/** A resident procedure that opens a door or a gate: it also counts against the open limit. */
export const openProcedure = residentProcedure.use(async ({ ctx, next }) => {
  await enforceRateLimit(ctx.deps.rateLimits, ctx.responseHeaders, "open", ctx.principal.userId);
  return next();
});

export const adminProcedure = residentProcedure.use(({ ctx, next }) => {
  if (!ctx.principal.isAdmin) {
    throw new CausedTRPCError("FORBIDDEN", "an admin role is required", { code: "FORBIDDEN" });
  }
  return next();
});
