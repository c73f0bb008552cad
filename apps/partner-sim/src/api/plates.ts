import {
  AddPlateRequest,
  OPERATIONS,
  PartnerRecordId,
  SiteId,
  Subject,
} from "@propgate/partner-client/contract";
import type { Context } from "hono";
import { Hono } from "hono";
import { z } from "zod";
import type { SimContext, SimEnv } from "../context.ts";
import { MAX_PLATES_PER_SUBJECT_SITE } from "../subject-data.ts";
import { apiError, apiNoContent, apiSuccess } from "./answers.ts";
import { authorize } from "./bearer-auth.ts";
import { refuseOtherMethods, serve } from "./contract-routes.ts";
import { readJsonBody } from "./request-body.ts";
import { noteBody, validate } from "./subject-requests.ts";

const SubjectQuery = z.strictObject({ subject: Subject });
const SitePath = z.object({ siteId: SiteId });
const PlatePath = z.object({ siteId: SiteId, plateId: PartnerRecordId });

/** `GET /v1/sites/{siteId}/plates?subject=…`: the subject's plates at that site. */
function listPlatesRoute(ctx: SimContext) {
  return async (c: Context<SimEnv>) => {
    const auth = await authorize(c, ctx, OPERATIONS["plates.list"].scope);
    if (!auth.ok) return auth.response;
    const path = validate(c, SitePath, { siteId: c.req.param("siteId") });
    if (!path.ok) return path.response;
    const query = validate(c, SubjectQuery, c.req.query());
    if (!query.ok) return query.response;

    const plates = ctx.data.listPlates(auth.claims.client_id, query.data.subject, path.data.siteId);
    return apiSuccess(c, { plates }, { items: plates });
  };
}

/** `POST /v1/sites/{siteId}/plates`: 201 with the new plate record. */
function addPlateRoute(ctx: SimContext) {
  return async (c: Context<SimEnv>) => {
    const record = c.get("record");
    const auth = await authorize(c, ctx, OPERATIONS["plates.add"].scope);
    if (!auth.ok) return auth.response;
    const body = await readJsonBody(c);
    if (!body.ok) return body.response;
    noteBody(record, body.value);
    const path = validate(c, SitePath, { siteId: c.req.param("siteId") });
    if (!path.ok) return path.response;
    const request = validate(c, AddPlateRequest, body.value);
    if (!request.ok) return request.response;

    const added = ctx.data.addPlate(auth.claims.client_id, path.data.siteId, request.data);
    if (!added.ok) {
      return added.error === "conflict"
        ? apiError(c, 409, "conflict", "the subject already has this plate at this site")
        : apiError(
            c,
            422,
            "limit_exceeded",
            `a subject may have at most ${MAX_PLATES_PER_SUBJECT_SITE} plates at a site`,
          );
    }
    record.plateId = added.record.id;
    const { id: _id, ...withoutId } = added.record;
    return apiSuccess(c, added.record, withoutId, 201);
  };
}

/** `DELETE /v1/sites/{siteId}/plates/{plateId}?subject=…`: only the subject's own plate. */
function removePlateRoute(ctx: SimContext) {
  return async (c: Context<SimEnv>) => {
    const auth = await authorize(c, ctx, OPERATIONS["plates.remove"].scope);
    if (!auth.ok) return auth.response;
    const query = validate(c, SubjectQuery, c.req.query());
    if (!query.ok) return query.response;
    const path = PlatePath.safeParse({
      siteId: c.req.param("siteId"),
      plateId: c.req.param("plateId"),
    });
    const removed =
      path.success &&
      ctx.data.removePlate(
        auth.claims.client_id,
        query.data.subject,
        path.data.siteId,
        path.data.plateId,
      );
    if (!removed) return apiError(c, 404, "not_found", "no such plate for this subject");
    return apiNoContent(c);
  };
}

export function plateRoutes(ctx: SimContext): Hono<SimEnv> {
  const app = new Hono<SimEnv>();
  serve(app, "plates.list", listPlatesRoute(ctx));
  serve(app, "plates.add", addPlateRoute(ctx));
  refuseOtherMethods(app, "plates.list", "plates.add");
  serve(app, "plates.remove", removePlateRoute(ctx));
  refuseOtherMethods(app, "plates.remove");
  return app;
}
