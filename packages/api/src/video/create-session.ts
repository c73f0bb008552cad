import {
  activateVideoSession,
  endVideoSession,
  InvalidInputError,
  reserveVideoSession,
} from "@propgate/consent-audit";
import { checkOffer, SdpError } from "@propgate/partner-client";
import { callPartner, type PartnerCallScope } from "../partner-call/call-partner.ts";

/** How long a reserved slot waits for the partner's answer before it stops counting. */
const PENDING_SECONDS = 60;

/**
 * Asks the camera's partner for a WebRTC session: the app's offer goes in (checked first), the
 * partner's answer comes back (checked by the partner client) and goes to the app, which then
 * connects to the partner's media server directly. Only ids, camera, resident and expiry are kept.
 */
export async function createVideoSession(
  call: PartnerCallScope,
  input: { cameraId: string; offerSdp: string },
) {
  try {
    checkOffer(input.offerSdp);
  } catch (error) {
    if (error instanceof SdpError) throw new InvalidInputError(`offerSdp: ${error.message}`);
    throw error;
  }
  const { deps, principal } = call;
  const { db } = deps.database;
  return callPartner(call, { device: input.cameraId }, async (io) => {
    const camera = io.device;
    if (!camera) throw new Error("a video session without its camera");
    const sessionId = await reserveVideoSession(db, {
      userId: principal.userId,
      cameraId: camera.id,
      partner: camera.partner,
      maxLive: deps.videoMaxSessionsPerResident,
      pendingSeconds: PENDING_SECONDS,
    });
    try {
      const answer = await deps.partners[io.partner].video.createSession({
        cameraId: camera.partnerDeviceId,
        offerSdp: input.offerSdp,
        hooks: io.hooks,
        signal: io.signal,
      });
      await activateVideoSession(db, sessionId, answer);
      return {
        sessionId,
        answerSdp: answer.answerSdp,
        iceServers: answer.iceServers,
        expiresAt: answer.expiresAt,
      };
    } catch (error) {
      await endVideoSession(db, sessionId, "failed").catch(() => {});
      throw error;
    }
  });
}
