import { OPERATIONS, Subject } from "@propgate/partner-client/contract";
import type { Context } from "hono";
import { Hono } from "hono";
import { z } from "zod";
import type { SimContext, SimEnv } from "../context.ts";
import { apiError, apiNoContent, apiSuccess } from "./answers.ts";
import { authorize } from "./bearer-auth.ts";
import { refuseOtherMethods, serve } from "./contract-routes.ts";
import { parseErasureCategories, validate } from "./subject-requests.ts";

const SubjectPath = z.object({ subject: Subject });
const ErasureQuery = z.strictObject({ categories: z.string().optional() });

/**
 * `DELETE /v1/subjects/{subject}?categories=faces,plates`: erases what this client's data holds
 * for the subject (all categories when none are named) → 200 with counts (the `propgate`
 * dialect), 204 (`standard`), or 202 when `erasureAnswer` says `accepted`. Idempotent.
 */
function eraseSubjectRoute(ctx: SimContext) {
  return async (c: Context<SimEnv>) => {
    const auth = await authorize(c, ctx, OPERATIONS["subjects.erase"].scope);
    if (!auth.ok) return auth.response;
    const path = validate(c, SubjectPath, { subject: c.req.param("subject") });
    if (!path.ok) return path.response;
    const query = validate(c, ErasureQuery, c.req.query());
    if (!query.ok) return query.response;
    const categories = parseErasureCategories(query.data.categories);
    if (categories === null) {
      return apiError(
        c,
        400,
        "invalid_request",
        "categories: must be a comma-separated list of faces, plates",
      );
    }

    const { subject } = path.data;
    const erased = ctx.data.erase(auth.claims.client_id, subject, categories);
    const faults = ctx.faults.get();
    const answer =
      faults.erasureAnswer ?? (faults.dialect === "standard" ? "no-content" : "counts");
    if (answer === "no-content") return apiNoContent(c);
    if (answer === "accepted") return c.body(null, 202);
    return apiSuccess(c, { subject, erased }, { subject });
  };
}

export function subjectErasureRoutes(ctx: SimContext): Hono<SimEnv> {
  const app = new Hono<SimEnv>();
  serve(app, "subjects.erase", eraseSubjectRoute(ctx));
  refuseOtherMethods(app, "subjects.erase");
  return app;
}
