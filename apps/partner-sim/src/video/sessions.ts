import { randomBytes } from "node:crypto";
import { isIP } from "node:net";
import type { IceServer } from "@propgate/partner-client/contract";
import {
  MediaStreamTrack,
  RTCPeerConnection,
  type RTCPeerConnectionConfig,
  type RTCRtpTransceiver,
  useVP8,
} from "werift";
import type { VideoClip } from "./clip.ts";
import { type MediaPump, startMediaPump } from "./media-pump.ts";
import { checkOffer, hasLiveVideo, keepCandidatesOn } from "./sdp.ts";
import { turnCredentials, turnUrl } from "./turn-credentials.ts";

export type VideoSessionState = "connecting" | "connected" | "closed";
export type VideoSessionClosedReason = "deleted" | "expired" | "failed" | "stopped";

export interface VideoSessionInfo {
  sessionId: string;
  cameraId: string;
  /** The OAuth client that created the session; only it may end it. */
  clientId: string;
  /** ISO 8601. */
  createdAt: string;
  /** ISO 8601; the sim closes the session then. */
  expiresAt: string;
  state: VideoSessionState;
  closedReason: VideoSessionClosedReason | null;
  /** VP8 frames written to the track. */
  framesSent: number;
  /** RTP bytes (headers and payload, before SRTP) written to the track. */
  bytesSent: number;
}

/** The in-process view of the sim's video sessions, for tests. */
export interface VideoSessions {
  /** Every session of this sim run, oldest first; closed ones included (the last 1000). */
  sessions(): VideoSessionInfo[];
  /**
   * Resolves with the session once it is in `state` (at once if it already is). Rejects when
   * the session is unknown, closes before reaching `state`, or `timeoutMs` passes.
   */
  waitForSessionState(
    sessionId: string,
    state: VideoSessionState,
    timeoutMs?: number,
  ): Promise<VideoSessionInfo>;
}

export type CreateSessionResult =
  | { ok: true; session: VideoSessionInfo; answerSdp: string; iceServers: IceServer[] }
  | { ok: false; status: 400 | 503; error: string; message: string };

export interface VideoSessionManager extends VideoSessions {
  readonly cameras: ReadonlySet<string>;
  /** Answers an offer with a new session streaming the clip; the offer must be checked SDP text. */
  create(input: {
    cameraId: string;
    clientId: string;
    offerSdp: string;
    ttlSeconds: number;
  }): Promise<CreateSessionResult>;
  /** Ends a live session of this client; false when there is none (unknown, closed, other client). */
  end(sessionId: string, clientId: string): boolean;
  /** Closes every live session (reason `stopped`) and refuses new ones. */
  closeAll(): Promise<void>;
}

export interface VideoSessionOptions {
  cameras: readonly string[];
  /** The only address ICE gathers on and the answer's candidates name. */
  mediaAddress: string;
  /** Loaded on first use when not given (only a sim with cameras needs it). */
  clip: () => VideoClip;
}

const GATHER_TIMEOUT_MS = 5000;
const KEEP_CLOSED = 1000;

/**
 * The address media is bound to: the sim's hostname when it is a concrete IP address,
 * otherwise (localhost, a wildcard, a DNS name) 127.0.0.1.
 */
export function mediaAddressFor(hostname: string): string {
  const bare = hostname.replace(/^\[(.*)\]$/, "$1");
  const unspecified = bare === "0.0.0.0" || /^[0:]+$/.test(bare);
  return isIP(bare) !== 0 && !unspecified ? bare : "127.0.0.1";
}

/** werift gathers host candidates from every interface unless told otherwise; this pins it. */
function peerConfig(address: string): RTCPeerConnectionConfig {
  return {
    codecs: { video: [useVP8()], audio: [] },
    iceServers: [],
    iceUseIpv4: false,
    iceUseIpv6: false,
    iceUseTcp: false,
    iceAdditionalHostAddresses: [address],
    iceInterfaceAddresses: isIP(address) === 6 ? { udp6: address } : { udp4: address },
  };
}

function newSessionId(): string {
  return `sim_vs_${randomBytes(16).toString("hex")}`;
}

function gatheringComplete(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      subscription.unSubscribe();
      reject(new Error(`ICE gathering did not complete within ${GATHER_TIMEOUT_MS} ms`));
    }, GATHER_TIMEOUT_MS);
    const subscription = pc.iceGatheringStateChange.subscribe((state) => {
      if (state !== "complete") return;
      clearTimeout(timer);
      subscription.unSubscribe();
      resolve();
    });
  });
}

interface Session {
  info: VideoSessionInfo;
  pc: RTCPeerConnection;
  track: MediaStreamTrack;
  expiry: ReturnType<typeof setTimeout> | undefined;
  pump: MediaPump | null;
}

export function createVideoSessions(options: VideoSessionOptions): VideoSessionManager {
  const { mediaAddress } = options;
  const cameras = new Set(options.cameras);
  const sessions = new Map<string, Session>();
  const listeners = new Set<() => void>();
  const turnSecret = randomBytes(32);
  const closing = new Set<Promise<void>>();
  let stopped = false;

  const notify = () => {
    for (const listener of [...listeners]) listener();
  };

  const forget = () => {
    const closed = [...sessions.values()].filter((s) => s.info.state === "closed");
    for (const session of closed.slice(0, Math.max(0, closed.length - KEEP_CLOSED))) {
      sessions.delete(session.info.sessionId);
    }
  };

  const close = (session: Session, reason: VideoSessionClosedReason) => {
    if (session.info.state === "closed") return;
    session.info.state = "closed";
    session.info.closedReason = reason;
    clearTimeout(session.expiry);
    session.pump?.stop();
    session.pump = null;
    session.track.stop();
    const done = session.pc
      .close()
      .catch(() => {})
      .finally(() => closing.delete(done));
    closing.add(done);
    forget();
    notify();
  };

  const connected = (session: Session, transceiver: RTCRtpTransceiver) => {
    if (session.info.state !== "connecting") return;
    const codec = transceiver.sender.codec;
    if (!codec) return close(session, "failed");
    session.info.state = "connected";
    session.pump = startMediaPump({
      clip: options.clip(),
      track: session.track,
      payloadType: codec.payloadType,
      ssrc: transceiver.sender.ssrc,
      onFrame: (bytes) => {
        session.info.framesSent += 1;
        session.info.bytesSent += bytes;
      },
    });
    notify();
  };

  /** Sets up the peer; returns an error message for offers werift cannot use. */
  const answer = async (
    pc: RTCPeerConnection,
    track: MediaStreamTrack,
    offerSdp: string,
    videoMid: string | null,
  ): Promise<{ ok: true; transceiver: RTCRtpTransceiver } | { ok: false; message: string }> => {
    try {
      await pc.setRemoteDescription({ type: "offer", sdp: offerSdp });
    } catch {
      // werift's message may quote the offer, which is never echoed or logged.
      return { ok: false, message: "the offer was rejected by the WebRTC stack" };
    }
    const videos = pc.getTransceivers().filter((t) => t.kind === "video");
    const transceiver = videos.find((t) => t.mid === videoMid) ?? videos[0];
    if (!transceiver) return { ok: false, message: "the offer has no usable video section" };
    for (const other of videos) if (other !== transceiver) other.setDirection("inactive");
    transceiver.setDirection("sendonly");
    await transceiver.sender.replaceTrack(track);
    await pc.setLocalDescription(await pc.createAnswer());
    if (transceiver.sender.codec?.mimeType.toLowerCase() !== "video/vp8") {
      return { ok: false, message: "no common video codec (the camera sends VP8)" };
    }
    return { ok: true, transceiver };
  };

  return {
    cameras,

    sessions: () => [...sessions.values()].map((session) => ({ ...session.info })),

    waitForSessionState(sessionId, state, timeoutMs = 5000) {
      const session = sessions.get(sessionId);
      if (!session) return Promise.reject(new Error(`no video session ${sessionId}`));
      return new Promise((resolve, reject) => {
        const check = () => {
          const { info } = session;
          if (info.state === state) {
            finish();
            resolve({ ...info });
          } else if (info.state === "closed") {
            finish();
            reject(new Error(`video session closed (${info.closedReason}) before ${state}`));
          }
        };
        const finish = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`video session not ${state} within ${timeoutMs} ms`));
        }, timeoutMs);
        listeners.add(check);
        check();
      });
    },

    async create({ cameraId, clientId, offerSdp, ttlSeconds }) {
      const stopping = {
        ok: false,
        status: 503,
        error: "unavailable",
        message: "partner-sim is stopping",
      } as const;
      if (stopped) return stopping;
      const offer = checkOffer(offerSdp);
      if (!offer.ok)
        return { ok: false, status: 400, error: "invalid_sdp", message: offer.message };

      const pc = new RTCPeerConnection(peerConfig(mediaAddress));
      const track = new MediaStreamTrack({ kind: "video" });
      const fail = async (result: CreateSessionResult) => {
        track.stop();
        await pc.close().catch(() => {});
        return result;
      };
      let transceiver: RTCRtpTransceiver;
      let answerSdp: string;
      try {
        const answered = await answer(pc, track, offerSdp, offer.videoMid);
        if (!answered.ok) {
          return fail({ ok: false, status: 400, error: "invalid_sdp", message: answered.message });
        }
        transceiver = answered.transceiver;
        await gatheringComplete(pc);
        answerSdp = keepCandidatesOn(pc.localDescription?.sdp ?? "", mediaAddress);
      } catch (error) {
        await fail(stopping);
        throw error;
      }
      if (stopped) return fail(stopping);
      if (!hasLiveVideo(answerSdp)) {
        await fail(stopping);
        throw new Error(`the answer has no video candidate on ${mediaAddress}`);
      }

      const createdAt = new Date();
      const expiresAt = new Date(createdAt.getTime() + ttlSeconds * 1000);
      const session: Session = {
        info: {
          sessionId: newSessionId(),
          cameraId,
          clientId,
          createdAt: createdAt.toISOString(),
          expiresAt: expiresAt.toISOString(),
          state: "connecting",
          closedReason: null,
          framesSent: 0,
          bytesSent: 0,
        },
        pc,
        track,
        expiry: undefined,
        pump: null,
      };
      sessions.set(session.info.sessionId, session);
      session.expiry = setTimeout(() => close(session, "expired"), ttlSeconds * 1000);
      pc.connectionStateChange.subscribe((state) => {
        if (state === "connected") connected(session, transceiver);
        else if (state === "failed") close(session, "failed");
      });
      if (pc.connectionState === "connected") connected(session, transceiver);
      notify();

      const turn = turnCredentials(turnSecret, session.info.sessionId, expiresAt);
      return {
        ok: true,
        session: { ...session.info },
        answerSdp,
        iceServers: [{ urls: [turnUrl(mediaAddress)], ...turn }],
      };
    },

    end(sessionId, clientId) {
      const session = sessions.get(sessionId);
      if (!session || session.info.state === "closed" || session.info.clientId !== clientId) {
        return false;
      }
      close(session, "deleted");
      return true;
    },

    async closeAll() {
      stopped = true;
      for (const session of sessions.values()) close(session, "stopped");
      await Promise.all([...closing]);
    },
  };
}
