import { OPERATIONS } from "@propgate/partner-client/contract";
import { Hono } from "hono";
import type { SimContext, SimEnv } from "../context.ts";
import { apiSuccess } from "./answers.ts";
import { authorize } from "./bearer-auth.ts";

/** `GET /v1/health` (scope health.read). */
export function healthRoutes(ctx: SimContext): Hono<SimEnv> {
  return new Hono<SimEnv>().get("/v1/health", async (c) => {
    const auth = await authorize(c, ctx, OPERATIONS.health.scope);
    if (!auth.ok) return auth.response;
    return apiSuccess(c, { status: "ok" }, { state: "ok" });
  });
}
