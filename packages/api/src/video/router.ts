import { listLiveVideoSessions, requestEndOfSessionsOffSites } from "@propgate/consent-audit";
import { DeviceId, TypedId } from "@propgate/domain";
import { MAX_SDP_BYTES } from "@propgate/partner-client";
import { IceServer } from "@propgate/partner-client/contract";
import { z } from "zod";
import { partnerProcedure, residentProcedure, router } from "../trpc.ts";
import { createVideoSession } from "./create-session.ts";
import { endSession } from "./end-session.ts";

const SessionId = TypedId("vss");
const CreatedSession = z.object({
  sessionId: SessionId,
  answerSdp: z.string().min(1),
  iceServers: z.array(IceServer),
  expiresAt: z.iso.datetime(),
});
const LiveSessions = z.array(
  z.object({ sessionId: SessionId, cameraId: DeviceId, expiresAt: z.iso.datetime() }),
);

export const videoRouter = router({
  createSession: partnerProcedure("video.create_session")
    .input(z.strictObject({ cameraId: DeviceId, offerSdp: z.string().min(1).max(MAX_SDP_BYTES) }))
    .output(CreatedSession)
    .mutation(({ ctx, input }) =>
      createVideoSession(ctx.call, ctx.deps, ctx.deps.settings.video, input),
    ),
  endSession: partnerProcedure("video.end_session", { whileBlocked: true })
    .input(z.strictObject({ sessionId: SessionId }))
    .output(z.object({ ended: z.boolean() }))
    .mutation(({ ctx, input }) =>
      endSession(ctx.call, ctx.deps, ctx.deps.settings.video.endRetry, input),
    ),
  listSessions: residentProcedure.output(LiveSessions).query(async ({ ctx }) => {
    const { db } = ctx.deps.database;
    // Sites the resident's token no longer names: their cameras' sessions are ended.
    await requestEndOfSessionsOffSites(db, ctx.principal.userId, ctx.principal.sites);
    const sessions = await listLiveVideoSessions(db, ctx.principal.userId);
    return sessions.map((session) => ({
      sessionId: session.id,
      cameraId: session.cameraId,
      expiresAt: session.expiresAt,
    }));
  }),
});
