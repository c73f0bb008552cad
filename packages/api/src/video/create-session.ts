import {
  activateVideoSession,
  ConsentRequiredError,
  type DatabaseHandle,
  endVideoSession,
  InvalidInputError,
  reserveVideoSession,
} from "@propgate/consent-audit";
import { checkOffer, SdpError } from "@propgate/partner-client";
import { callPartner, type PartnerCallScope } from "../partner-call/call-partner.ts";
import type { Partners } from "../partners.ts";
import type { VideoSettings } from "../settings.ts";

/** What starting a session uses besides the call scope. */
export interface VideoSessionServices {
  database: DatabaseHandle;
  partners: Partners;
}

/** How long a reserved slot waits for the partner's answer before it stops counting. */
const PENDING_SECONDS = 60;

/**
 * Asks the camera's partner for a WebRTC session: the app's offer goes in (checked first), the
 * partner's answer comes back (checked by the partner client) and goes to the app, which then
 * connects to the partner's media server directly. Only ids, camera, resident and expiry are kept.
 */
export async function createVideoSession(
  call: PartnerCallScope,
  services: VideoSessionServices,
  video: Pick<VideoSettings, "maxSessionsPerResident" | "sessionMaxSeconds">,
  input: { cameraId: string; offerSdp: string },
) {
  try {
    checkOffer(input.offerSdp);
  } catch (error) {
    if (error instanceof SdpError) throw new InvalidInputError(`offerSdp: ${error.message}`);
    throw error;
  }
  const { principal } = call;
  const { partners } = services;
  const { db } = services.database;
  return callPartner(call, { device: input.cameraId }, async (io) => {
    const camera = io.device;
    if (!camera) throw new Error("a video session without its camera");
    const sessionId = await reserveVideoSession(db, {
      userId: principal.userId,
      cameraId: camera.id,
      siteId: camera.siteId,
      partner: camera.partner,
      maxLive: video.maxSessionsPerResident,
      pendingSeconds: PENDING_SECONDS,
    });
    let activated = false;
    try {
      const answer = await partners[io.partner].video.createSession({
        cameraId: camera.partnerDeviceId,
        offerSdp: input.offerSdp,
        hooks: io.hooks,
        signal: io.signal,
      });
      // The partner's end when it names one, never beyond our own longest session.
      const longest = Date.now() + video.sessionMaxSeconds * 1000;
      const expiresAt = new Date(
        Math.min(answer.expiresAt === null ? longest : Date.parse(answer.expiresAt), longest),
      ).toISOString();
      activated = true;
      const wanted = await activateVideoSession(db, sessionId, {
        partnerSessionId: answer.partnerSessionId,
        sessionPath: answer.sessionPath,
        expiresAt,
      });
      // A revocation raced the answer: the session is queued to be ended, not handed out.
      // No refusal row of its own: the revocation's `consent.revoke` row says why.
      if (!wanted) throw new ConsentRequiredError("video", "");
      return { sessionId, answerSdp: answer.answerSdp, iceServers: answer.iceServers, expiresAt };
    } catch (error) {
      // Created at the partner: the end queue ends it there. Never created: nothing to end.
      if (!activated) await endVideoSession(db, sessionId, "failed").catch(() => {});
      throw error;
    }
  });
}
