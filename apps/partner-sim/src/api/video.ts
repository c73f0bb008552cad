import {
  expandPath,
  MAX_SDP_BYTES,
  OPERATIONS,
  operationPath,
  PartnerSessionId,
  SDP_CONTENT_TYPE,
  VIDEO_SESSION_EXPIRES_HEADER,
} from "@propgate/partner-client/contract";
import type { Context } from "hono";
import { Hono } from "hono";
import type { SimContext, SimEnv } from "../context.ts";
import { iceServerLinks } from "../video/turn-credentials.ts";
import { apiError } from "./answers.ts";
import { authorize } from "./bearer-auth.ts";
import { honoPath, refuseOtherMethods, serve } from "./contract-routes.ts";
import { readLimitedText } from "./request-body.ts";

/** Where a `standard` partner keeps its sessions: a path of its own (MediaMTX-like). */
export const STANDARD_SESSION_PATH = "/streams/{cameraId}/whep/{sessionId}";
/** What the `bad-sdp` fault answers instead of an SDP answer. */
export const BAD_SDP_BODY = "hello, not sdp";

function mediaType(header: string | undefined): string {
  return (header ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

/** `POST /v1/cameras/{cameraId}/webrtc` (WHEP): SDP offer in, SDP answer and session out. */
function createSessionRoute(ctx: SimContext) {
  return async (c: Context<SimEnv>) => {
    const record = c.get("record");
    const auth = await authorize(c, ctx, OPERATIONS["video.create_session"].scope);
    if (!auth.ok) return auth.response;
    const cameraId = c.req.param("cameraId") ?? "";
    record.cameraId = cameraId;

    if (mediaType(c.req.header("content-type")) !== SDP_CONTENT_TYPE) {
      return apiError(c, 415, "unsupported_media_type", `body must be ${SDP_CONTENT_TYPE}`);
    }
    const body = await readLimitedText(c.req.raw, MAX_SDP_BYTES);
    record.sdpBytes = body.bytes;
    if (!body.ok && body.reason === "too_large") {
      return apiError(c, 413, "payload_too_large", `an SDP offer may be ${MAX_SDP_BYTES} bytes`);
    }
    if (!ctx.video.cameras.has(cameraId)) {
      return apiError(c, 404, "not_found", `no camera ${cameraId}`);
    }
    if (!body.ok) return apiError(c, 400, "invalid_sdp", "the offer is not UTF-8 text");

    const created = await ctx.video.create({
      cameraId,
      clientId: auth.claims.client_id,
      offerSdp: body.text,
      ttlSeconds: ctx.faults.get().videoSessionTtlSeconds,
    });
    if (!created.ok) return apiError(c, created.status, created.error, created.message);
    const { session } = created;
    record.sessionId = session.sessionId;

    const headers =
      c.get("dialect") === "standard"
        ? // draft-ietf-wish-whep §4.2: the session's URL, an ETag, trickle ICE; no lifetime.
          new Headers({
            "content-type": SDP_CONTENT_TYPE,
            location: expandPath(STANDARD_SESSION_PATH, [cameraId, session.sessionId]),
            etag: `"${session.sessionId}"`,
            "accept-patch": "application/trickle-ice-sdpfrag",
          })
        : new Headers({
            "content-type": SDP_CONTENT_TYPE,
            "cache-control": "no-store",
            location: operationPath("video.end_session", session.sessionId),
            [VIDEO_SESSION_EXPIRES_HEADER]: session.expiresAt,
          });
    for (const link of iceServerLinks(created.iceServers)) headers.append("link", link);

    // The session exists either way; only the answer is broken.
    const mode = c.get("responseMode");
    if (mode === "bad-sdp") {
      record.fault = "bad-sdp";
      return new Response(BAD_SDP_BODY, { status: 201, headers });
    }
    if (mode === "non-json") {
      record.fault = "non-json";
      headers.set("content-type", "text/html; charset=UTF-8");
      return new Response("<html>oops</html>", { status: 201, headers });
    }
    if (mode === "bad-schema") {
      record.fault = "bad-schema";
      headers.delete("location");
    }
    return new Response(created.answerSdp, { status: 201, headers });
  };
}

/** `DELETE /v1/sessions/{sessionId}`: only the client that created the session may end it. */
function endSessionRoute(ctx: SimContext) {
  return async (c: Context<SimEnv>) => {
    const record = c.get("record");
    const auth = await authorize(c, ctx, OPERATIONS["video.end_session"].scope);
    if (!auth.ok) return auth.response;
    const sessionId = c.req.param("sessionId") ?? "";
    record.sessionId = sessionId;
    // On the standard path the camera is part of the URL: it must be the session's own.
    const cameraId = c.req.param("cameraId");
    const session = ctx.video.sessions().find((known) => known.sessionId === sessionId);
    const known =
      PartnerSessionId.safeParse(sessionId).success &&
      (cameraId === undefined || session?.cameraId === cameraId) &&
      ctx.video.end(sessionId, auth.claims.client_id);
    if (!known) return apiError(c, 404, "not_found", "no such video session");
    return c.body(null, 204);
  };
}

export function videoRoutes(ctx: SimContext): Hono<SimEnv> {
  const app = new Hono<SimEnv>();
  serve(app, "video.create_session", createSessionRoute(ctx));
  refuseOtherMethods(app, "video.create_session");
  serve(app, "video.end_session", endSessionRoute(ctx));
  refuseOtherMethods(app, "video.end_session");
  return app
    .delete(honoPath(STANDARD_SESSION_PATH), endSessionRoute(ctx))
    .all(honoPath(STANDARD_SESSION_PATH), (c) =>
      apiError(c, 405, "method_not_allowed", "use DELETE", { Allow: "DELETE" }),
    );
}
