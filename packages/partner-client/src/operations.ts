import type { CallHooks, PartnerClient, RawAnswer } from "./call.ts";
import {
  AddPlateRequest,
  EnrollFaceRequest,
  type ErasureCategory,
  ErasureResponse,
  FaceList,
  FaceRecord,
  type IceServer,
  OpenRequest,
  OpenResponse,
  PartnerSessionId,
  PlateList,
  PlateRecord,
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
  const body = OpenRequest.parse({ subject: input.subject });
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

/** Plates adapter (barrier partner). The plate is already normalized; it only passes through. */
export function platesOperations(client: PartnerClient) {
  return {
    list(input: { siteId: string; subject: string; hooks?: CallHooks; signal?: AbortSignal }) {
      return client.call({
        operation: "plates.list",
        pathParam: input.siteId,
        query: { subject: input.subject },
        response: PlateList,
        hooks: input.hooks,
        signal: input.signal,
      });
    },
    add(input: {
      siteId: string;
      subject: string;
      plate: string;
      validUntil?: string;
      hooks?: CallHooks;
      signal?: AbortSignal;
    }) {
      const body = AddPlateRequest.parse({
        subject: input.subject,
        plate: input.plate,
        validUntil: input.validUntil,
      });
      return client.call({
        operation: "plates.add",
        pathParam: input.siteId,
        body,
        response: PlateRecord,
        hooks: input.hooks,
        signal: input.signal,
      });
    },
    async remove(input: {
      siteId: string;
      plateId: string;
      subject: string;
      hooks?: CallHooks;
      signal?: AbortSignal;
    }) {
      return client.call({
        operation: "plates.remove",
        pathParam: [input.siteId, input.plateId],
        query: { subject: input.subject },
        decode: () => ({ removed: true as const }),
        hooks: input.hooks,
        signal: input.signal,
      });
    },
  };
}

/** Faces adapter (intercom partner). The image exists only in memory for the call. */
export function facesOperations(client: PartnerClient) {
  return {
    list(input: { subject: string; hooks?: CallHooks; signal?: AbortSignal }) {
      return client.call({
        operation: "faces.list",
        pathParam: "",
        query: { subject: input.subject },
        response: FaceList,
        hooks: input.hooks,
        signal: input.signal,
      });
    },
    enroll(input: {
      subject: string;
      imageBase64: string;
      hooks?: CallHooks;
      signal?: AbortSignal;
    }) {
      const body = EnrollFaceRequest.parse({ subject: input.subject, image: input.imageBase64 });
      return client.call({
        operation: "faces.enroll",
        pathParam: "",
        body,
        response: FaceRecord,
        hooks: input.hooks,
        signal: input.signal,
      });
    },
    remove(input: { faceId: string; subject: string; hooks?: CallHooks; signal?: AbortSignal }) {
      return client.call({
        operation: "faces.remove",
        pathParam: input.faceId,
        query: { subject: input.subject },
        decode: () => ({ removed: true as const }),
        hooks: input.hooks,
        signal: input.signal,
      });
    },
  };
}

/** Erasure at the partner: what it holds for a subject, in the given categories. Idempotent. */
export function subjectOperations(client: PartnerClient) {
  return {
    erase(input: { subject: string; categories: readonly ErasureCategory[]; hooks?: CallHooks }) {
      return client.call({
        operation: "subjects.erase",
        pathParam: input.subject,
        query: { categories: [...input.categories].sort().join(",") },
        response: ErasureResponse,
        hooks: input.hooks,
      });
    },
  };
}
