import {
  type AuditContext,
  activateVideoSession,
  endVideoSession,
  InvalidInputError,
  reserveVideoSession,
} from "@propgate/consent-audit";
import { checkOffer, SdpError } from "@propgate/partner-client";
import type { Principal } from "../auth.ts";
import type { AppDeps } from "../deps.ts";
import { authorizeDevice, partnerCall, requireConsent } from "../devices/partner-call.ts";

/** How long a reserved slot waits for the partner's answer before it stops counting. */
const PENDING_SECONDS = 60;

/**
 * Asks the camera's partner for a WebRTC session: the app's offer goes in (checked first), the
 * partner's answer comes back (checked by the partner client) and goes to the app, which then
 * connects to the partner's media server directly. Only ids, camera, resident and expiry are kept.
 */
export async function createVideoSession(
  deps: AppDeps,
  principal: Principal,
  audit: AuditContext,
  input: { cameraId: string; offerSdp: string },
) {
  try {
    checkOffer(input.offerSdp);
  } catch (error) {
    if (error instanceof SdpError) throw new InvalidInputError(`offerSdp: ${error.message}`);
    throw error;
  }
  const scope = {
    deps,
    principal,
    audit,
    operation: "video.create_session",
    purpose: "video" as const,
  };
  const camera = await authorizeDevice(scope, input.cameraId, { kind: "camera" });
  await requireConsent(scope, camera.id);

  const { db } = deps.database;
  const sessionId = await reserveVideoSession(db, {
    userId: principal.userId,
    cameraId: camera.id,
    partner: camera.partner,
    maxLive: deps.videoMaxSessionsPerResident,
    pendingSeconds: PENDING_SECONDS,
  });
  try {
    const answer = await partnerCall(
      scope,
      { partner: camera.partner, target: camera.id },
      ({ hooks, signal }) =>
        deps.partners[camera.partner].video.createSession({
          cameraId: camera.partnerDeviceId,
          offerSdp: input.offerSdp,
          hooks,
          signal,
        }),
    );
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
}
