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

/** When each accepted (202) erasure was taken, by client and subject; the last one counts. */
type AcceptedErasures = Map<string, number>;
const owner = (clientId: string, subject: string) => `${clientId}\n${subject}`;

/**
 * `DELETE /v1/subjects/{subject}?categories=faces,plates`: erases what this client's data holds
 * for the subject (all categories when none are named) → 200 with counts (the `propgate`
 * dialect), 204 (`standard`), or 202 when `erasureAnswer` says `accepted`. Idempotent.
 */
function eraseSubjectRoute(ctx: SimContext, accepted: AcceptedErasures) {
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
    if (answer === "accepted") {
      accepted.set(owner(auth.claims.client_id, subject), Date.now());
      return c.body(null, 202);
    }
    return apiSuccess(c, { subject, erased }, { subject });
  };
}

/**
 * `GET /v1/subjects/{subject}/erasure`: an accepted erasure is `pending` (with `Retry-After`, the
 * seconds left) until `erasureCompletesAfterMs` after its DELETE, then `done` at that time; with
 * `erasureNeverCompletes` it stays pending (`Retry-After: 1`). None accepted for the subject: 404.
 */
function erasureStatusRoute(ctx: SimContext, accepted: AcceptedErasures) {
  return async (c: Context<SimEnv>) => {
    const auth = await authorize(c, ctx, OPERATIONS["subjects.erasure_status"].scope);
    if (!auth.ok) return auth.response;
    const path = validate(c, SubjectPath, { subject: c.req.param("subject") });
    if (!path.ok) return path.response;
    const since = accepted.get(owner(auth.claims.client_id, path.data.subject));
    if (since === undefined) return apiError(c, 404, "not_found", "no erasure for this subject");
    const faults = ctx.faults.get();
    const doneAt = since + faults.erasureCompletesAfterMs;
    if (faults.erasureNeverCompletes || Date.now() < doneAt) {
      const left = faults.erasureNeverCompletes ? 1 : Math.ceil((doneAt - Date.now()) / 1000);
      c.header("Retry-After", String(Math.max(1, left)));
      return apiSuccess(c, { status: "pending" }, { status: "erasing" });
    }
    const done = { status: "done", completedAt: new Date(doneAt).toISOString() };
    return apiSuccess(c, done, { ...done, completedAt: "yesterday" });
  };
}

export function subjectErasureRoutes(ctx: SimContext): Hono<SimEnv> {
  const app = new Hono<SimEnv>();
  const accepted: AcceptedErasures = new Map();
  serve(app, "subjects.erase", eraseSubjectRoute(ctx, accepted));
  serve(app, "subjects.erasure_status", erasureStatusRoute(ctx, accepted));
  refuseOtherMethods(app, "subjects.erase");
  refuseOtherMethods(app, "subjects.erasure_status");
  return app;
}
