import { OPERATIONS } from "@propgate/partner-client/contract";
import { Hono } from "hono";
import type { SimContext, SimEnv } from "../context.ts";
import { apiSuccess } from "./answers.ts";
import { authorize } from "./bearer-auth.ts";
import { serve } from "./contract-routes.ts";

/** `GET /v1/health` (scope health.read); another method finds no route (404). */
export function healthRoutes(ctx: SimContext): Hono<SimEnv> {
  const app = new Hono<SimEnv>();
  serve(app, "health", async (c) => {
    const auth = await authorize(c, ctx, OPERATIONS.health.scope);
    if (!auth.ok) return auth.response;
    return apiSuccess(c, { status: "ok" }, { state: "ok" });
  });
  return app;
}
