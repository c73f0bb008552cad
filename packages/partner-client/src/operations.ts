import type { CallHooks, PartnerClient, RawAnswer } from "./client.ts";
import {
  type IceServer,
  type OpenRequest,
  OpenResponse,
  PartnerSessionId,
  SDP_CONTENT_TYPE,
  VIDEO_SESSION_EXPIRES_HEADER,
} from "./contract.ts";
import { PartnerRejectedError } from "./errors.ts";
import { iceServersFromLinks } from "./link-header.ts";
import { checkAnswer, SdpError } from "./sdp.ts";

export interface OpenDeviceInput {
  partnerDeviceId: string;
  subject: string;
  idempotencyKey: string;
  hooks?: CallHooks;
  signal?: AbortSignal;
}

function open(
  client: PartnerClient,
  operation: "intercom.open" | "barrier.open",
  input: OpenDeviceInput,
) {
  const body: OpenRequest = { subject: input.subject };
  return client.call({
    operation,
    pathParam: input.partnerDeviceId,
    body,
    idempotencyKey: input.idempotencyKey,
    response: OpenResponse,
    hooks: input.hooks,
    signal: input.signal,
  });
}

/** Intercom adapter: the operations of the intercom partner's API. */
export function intercomOperations(client: PartnerClient) {
  return { openDoor: (input: OpenDeviceInput) => open(client, "intercom.open", input) };
}

/** Barrier adapter: the operations of the barrier partner's API. */
export function barrierOperations(client: PartnerClient) {
  return { openGate: (input: OpenDeviceInput) => open(client, "barrier.open", input) };
}

export interface VideoSessionAnswer {
  partnerSessionId: string;
  answerSdp: string;
  iceServers: IceServer[];
  expiresAt: string;
}

/** The longest session a partner may announce; anything beyond is not believed. */
const MAX_SESSION_MS = 24 * 60 * 60 * 1000;

function decodeVideoSession(baseUrl: URL) {
  return (answer: RawAnswer): VideoSessionAnswer => {
    if (answer.status !== 201) throw new Error(`expected 201, got ${answer.status}`);
    const type = (answer.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase();
    if (type !== SDP_CONTENT_TYPE) throw new Error("the answer is not application/sdp");
    try {
      checkAnswer(answer.text);
    } catch (error) {
      throw new Error(
        `invalid SDP answer: ${error instanceof SdpError ? error.message : "unparseable"}`,
      );
    }
    // The session URL must be ours to call: same origin as the partner, the contract's path.
    const location = new URL(answer.headers.get("location") ?? "", baseUrl);
    const match = /^\/v1\/sessions\/([^/]+)$/.exec(
      location.pathname.replace(baseUrl.pathname.replace(/\/$/, ""), ""),
    );
    const sessionId = PartnerSessionId.safeParse(decodeURIComponent(match?.[1] ?? ""));
    if (location.origin !== baseUrl.origin || !sessionId.success)
      throw new Error("Location is not a session of this partner");
    const expires = Date.parse(answer.headers.get(VIDEO_SESSION_EXPIRES_HEADER) ?? "");
    if (Number.isNaN(expires) || expires <= Date.now() || expires - Date.now() > MAX_SESSION_MS) {
      throw new Error(`${VIDEO_SESSION_EXPIRES_HEADER} is missing or implausible`);
    }
    return {
      partnerSessionId: sessionId.data,
      answerSdp: answer.text,
      iceServers: iceServersFromLinks(answer.headers.get("link")),
      expiresAt: new Date(expires).toISOString(),
    };
  };
}

/** Video adapter: WHEP-shaped sessions at the partner. */
export function videoOperations(client: PartnerClient, baseUrl: URL) {
  return {
    createSession(input: {
      cameraId: string;
      offerSdp: string;
      hooks?: CallHooks;
      signal?: AbortSignal;
    }) {
      return client.call({
        operation: "video.create_session",
        pathParam: input.cameraId,
        sdp: input.offerSdp,
        decode: decodeVideoSession(baseUrl),
        hooks: input.hooks,
        signal: input.signal,
      });
    },
    /** Ends the session; a session the partner no longer knows counts as ended. */
    async endSession(input: {
      partnerSessionId: string;
      hooks?: CallHooks;
    }): Promise<{ ended: true }> {
      try {
        return await client.call({
          operation: "video.end_session",
          pathParam: input.partnerSessionId,
          decode: () => ({ ended: true as const }),
          hooks: input.hooks,
        });
      } catch (error) {
        if (error instanceof PartnerRejectedError && error.status === 404) return { ended: true };
        throw error;
      }
    },
  };
}
