import { createMiddleware } from "hono/factory";
import type { SimContext, SimEnv } from "../context.ts";
import { waitFor, waitForAbort } from "../waiting.ts";
import { apiError } from "./answers.ts";
import { noteBodyOfUnhandledCall } from "./subject-requests.ts";

/**
 * Faults in front of every API call, in this order: `failErasures` (erasures only, ahead of
 * everything else), latency, an injected error status (`failNext`, then `errorRate`), `hang`.
 * The other response modes act on successful answers.
 */
export function injectedFaults(ctx: SimContext) {
  return createMiddleware<SimEnv>(async (c, next) => {
    const record = c.get("record");
    if (
      record.operation === "subjects.erase" &&
      c.req.method === "DELETE" &&
      ctx.faults.takeErasureFailure()
    ) {
      record.fault = "failErasures";
      return apiError(c, 503, "unavailable", "erasure unavailable (injected)", {
        "Retry-After": "1",
      });
    }
    const faults = ctx.faults.get();
    c.set("responseMode", faults.responseMode);
    c.set("dialect", faults.dialect);

    if (faults.latencyMs > 0) {
      ctx.holdOpen(c.req.raw);
      await waitFor(faults.latencyMs, ctx.shutdown);
      if (ctx.shutdown.aborted) return apiError(c, 503, "unavailable", "partner-sim is stopping");
    }

    const failure = ctx.faults.takeFailure();
    if (failure) {
      record.fault = failure.kind;
      await noteBodyOfUnhandledCall(c);
      const headers: Record<string, string> = {};
      if (
        failure.retryAfterSeconds !== null &&
        (failure.status === 429 || failure.status === 503)
      ) {
        headers["Retry-After"] = String(failure.retryAfterSeconds);
      }
      if (failure.status === 429) {
        return apiError(
          c,
          429,
          failure.errorCode ?? "rate_limited",
          "too many requests (injected)",
          headers,
        );
      }
      if (failure.status < 500) {
        return apiError(
          c,
          failure.status,
          failure.errorCode ?? "rejected",
          "request refused (injected)",
        );
      }
      return apiError(
        c,
        failure.status,
        failure.errorCode ?? "unavailable",
        "partner unavailable (injected)",
        headers,
      );
    }

    if (faults.responseMode === "hang") {
      record.fault = "hang";
      await noteBodyOfUnhandledCall(c);
      // Recorded now with status 0: the sim never answers, and tests may wait for the arrival.
      record.sent = true;
      const { sent: _sent, ...received } = record;
      ctx.recorder.add({ ...received, status: 0 });
      ctx.holdOpen(c.req.raw);
      await waitForAbort(c.req.raw.signal, ctx.shutdown);
      return apiError(c, 503, "unavailable", "request abandoned");
    }

    await next();
  });
}
