import { createHash } from "node:crypto";
import {
  EnrollFaceRequest,
  OPERATIONS,
  PartnerRecordId,
  Subject,
} from "@propgate/partner-client/contract";
import type { Context } from "hono";
import { Hono } from "hono";
import { z } from "zod";
import type { SimContext, SimEnv } from "../context.ts";
import { MAX_FACE_IMAGE_BYTES, MAX_FACES_PER_SUBJECT } from "../subject-data.ts";
import { apiError, apiNoContent, apiSuccess } from "./answers.ts";
import { authorize } from "./bearer-auth.ts";
import { refuseOtherMethods, serve } from "./contract-routes.ts";
import { readJsonBody } from "./request-body.ts";
import { MAX_FACE_BODY_BYTES, noteBody, validate } from "./subject-requests.ts";

const SubjectQuery = z.strictObject({ subject: Subject });

/** A JPEG starts with SOI and a marker (FF D8 FF) and ends with EOI (FF D9). */
function looksLikeJpeg(bytes: Uint8Array): boolean {
  const n = bytes.length;
  return (
    n >= 5 &&
    bytes[0] === 0xff &&
    bytes[1] === 0xd8 &&
    bytes[2] === 0xff &&
    bytes[n - 2] === 0xff &&
    bytes[n - 1] === 0xd9
  );
}

/**
 * `POST /v1/faces`: enrolls a JPEG for a subject → 201 `{ faceId, createdAt }`. The sim keeps a
 * SHA-256 of the image, never the image.
 */
function enrollFaceRoute(ctx: SimContext) {
  return async (c: Context<SimEnv>) => {
    const record = c.get("record");
    const auth = await authorize(c, ctx, OPERATIONS["faces.enroll"].scope);
    if (!auth.ok) return auth.response;
    const body = await readJsonBody(c, MAX_FACE_BODY_BYTES);
    if (!body.ok) return body.response;
    noteBody(record, body.value);
    const tooLarge = () =>
      apiError(
        c,
        413,
        "payload_too_large",
        `a face image may be at most ${MAX_FACE_IMAGE_BYTES} bytes`,
      );
    if ((record.imageBytes ?? 0) > MAX_FACE_IMAGE_BYTES) return tooLarge();
    const request = validate(c, EnrollFaceRequest, body.value);
    if (!request.ok) return request.response;

    const image = Buffer.from(request.data.image, "base64");
    if (image.length > MAX_FACE_IMAGE_BYTES) return tooLarge();
    if (!looksLikeJpeg(image)) return apiError(c, 422, "invalid_image", "the image is not a JPEG");
    const imageSha256 = createHash("sha256").update(image).digest("hex");

    const enrolled = ctx.data.enrollFace(auth.claims.client_id, request.data.subject, imageSha256);
    if (!enrolled.ok) {
      return apiError(
        c,
        422,
        "limit_exceeded",
        `a subject may have at most ${MAX_FACES_PER_SUBJECT} faces`,
      );
    }
    record.faceId = enrolled.record.faceId;
    return apiSuccess(c, enrolled.record, { createdAt: enrolled.record.createdAt }, 201);
  };
}

/** `GET /v1/faces?subject=…`. */
function listFacesRoute(ctx: SimContext) {
  return async (c: Context<SimEnv>) => {
    const auth = await authorize(c, ctx, OPERATIONS["faces.list"].scope);
    if (!auth.ok) return auth.response;
    const query = validate(c, SubjectQuery, c.req.query());
    if (!query.ok) return query.response;
    const faces = ctx.data.listFaces(auth.claims.client_id, query.data.subject);
    return apiSuccess(c, { faces }, { items: faces });
  };
}

/** `DELETE /v1/faces/{faceId}?subject=…`: only the subject's own face. */
function removeFaceRoute(ctx: SimContext) {
  return async (c: Context<SimEnv>) => {
    const auth = await authorize(c, ctx, OPERATIONS["faces.remove"].scope);
    if (!auth.ok) return auth.response;
    const query = validate(c, SubjectQuery, c.req.query());
    if (!query.ok) return query.response;
    const faceId = PartnerRecordId.safeParse(c.req.param("faceId"));
    const removed =
      faceId.success && ctx.data.removeFace(auth.claims.client_id, query.data.subject, faceId.data);
    if (!removed) return apiError(c, 404, "not_found", "no such face for this subject");
    return apiNoContent(c);
  };
}

export function faceRoutes(ctx: SimContext): Hono<SimEnv> {
  const app = new Hono<SimEnv>();
  serve(app, "faces.list", listFacesRoute(ctx));
  serve(app, "faces.enroll", enrollFaceRoute(ctx));
  refuseOtherMethods(app, "faces.list", "faces.enroll");
  serve(app, "faces.remove", removeFaceRoute(ctx));
  refuseOtherMethods(app, "faces.remove");
  return app;
}
