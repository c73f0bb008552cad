import { listLiveVideoSessions } from "@propgate/consent-audit";
import { MAX_SDP_BYTES } from "@propgate/partner-client";
import { z } from "zod";
import { residentProcedure, router } from "../trpc/init.ts";
import { DeviceId } from "../trpc/inputs.ts";
import { createVideoSession } from "./create-session.ts";
import { endSession } from "./end-session.ts";

const SessionId = z.string().regex(/^vss_[0-9a-z]{20}$/, "sessionId must be a video session id");

export const videoRouter = router({
  createSession: residentProcedure
    .input(z.strictObject({ cameraId: DeviceId, offerSdp: z.string().min(1).max(MAX_SDP_BYTES) }))
    .mutation(({ ctx, input }) => createVideoSession(ctx.deps, ctx.principal, ctx.audit, input)),
  endSession: residentProcedure
    .input(z.strictObject({ sessionId: SessionId }))
    .mutation(({ ctx, input }) => endSession(ctx.deps, ctx.principal, ctx.audit, input)),
  listSessions: residentProcedure.query(async ({ ctx }) => {
    const sessions = await listLiveVideoSessions(ctx.deps.database.db, ctx.principal.userId);
    return sessions.map((session) => ({
      sessionId: session.id,
      cameraId: session.cameraId,
      expiresAt: session.expiresAt,
    }));
  }),
});
