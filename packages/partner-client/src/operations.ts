import { parseRetryAfter } from "./attempt.ts";
import type { CallHooks, PartnerClient, RawAnswer } from "./call.ts";
import {
  AddPlateRequest,
  CreatedKey,
  CreateKeyRequest,
  EnrollFaceRequest,
  type ErasureCategory,
  ErasureResponse,
  ErasureStatusResponse,
  FaceList,
  FaceRecord,
  type IceServer,
  KeyList,
  OpenRequest,
  OpenResponse,
  PlateList,
  PlateRecord,
  SDP_CONTENT_TYPE,
  VIDEO_SESSION_EXPIRES_HEADER,
} from "./contract.ts";
import { ContractViolation, PartnerRejectedError } from "./errors.ts";
import { iceServersFromLinks } from "./link-header.ts";
import { issueFields } from "./retry-policy.ts";
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
  /** The session's URL at the partner (`Location`): a path and query on the partner's origin. */
  sessionPath: string;
  /** The last segment of that path: the partner's name for the session, for admins and logs. */
  partnerSessionId: string;
  answerSdp: string;
  iceServers: IceServer[];
  /** When the partner says it ends the session (`X-Session-Expires-At`); null when it says nothing. */
  expiresAt: string | null;
}

/** The longest session a partner may announce; anything beyond is not believed. */
const MAX_SESSION_MS = 24 * 60 * 60 * 1000;

/** Media type of a `Content-Type`, without parameters (`application/sdp; charset=utf-8`). */
function mediaType(header: string | null): string {
  return (header ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

/**
 * A WHEP answer (draft-ietf-wish-whep §4.2), read tolerantly: 201 (or 200), `application/sdp`
 * with or without parameters, the session's `Location` anywhere on the partner's origin
 * (relative to the request URL, RFC 9110 §10.2.2), ICE servers in `Link` headers, and the
 * optional `X-Session-Expires-At`. A `Location` on another origin is refused: we `DELETE` it.
 */
function decodeVideoSession(answer: RawAnswer): VideoSessionAnswer {
  if (answer.status !== 201 && answer.status !== 200)
    throw new ContractViolation("status", `expected 201 Created, got ${answer.status}`);
  if (mediaType(answer.headers.get("content-type")) !== SDP_CONTENT_TYPE)
    throw new ContractViolation("content_type", `the answer is not ${SDP_CONTENT_TYPE}`);
  try {
    checkAnswer(answer.text);
  } catch (error) {
    const why = error instanceof SdpError ? error.message : "unparseable";
    throw new ContractViolation("sdp", `invalid SDP answer: ${why}`);
  }
  const header = answer.headers.get("location");
  if (!header) throw new ContractViolation("location", "no Location header", ["Location"]);
  let location: URL;
  try {
    location = new URL(header, answer.url);
  } catch {
    throw new ContractViolation("location", "Location is not a URL", ["Location"]);
  }
  if (location.origin !== answer.url.origin || location.pathname === "/")
    throw new ContractViolation("location", "Location is not on the partner's origin", [
      "Location",
    ]);
  const sessionPath = `${location.pathname}${location.search}`;
  if (sessionPath.length > 1024)
    throw new ContractViolation("location", "Location is too long", ["Location"]);
  let expiresAt: string | null = null;
  const expires = answer.headers.get(VIDEO_SESSION_EXPIRES_HEADER);
  if (expires !== null) {
    const at = Date.parse(expires);
    if (Number.isNaN(at) || at <= Date.now() || at - Date.now() > MAX_SESSION_MS) {
      throw new ContractViolation("expiry", `${VIDEO_SESSION_EXPIRES_HEADER} is implausible`, [
        VIDEO_SESSION_EXPIRES_HEADER,
      ]);
    }
    expiresAt = new Date(at).toISOString();
  }
  let iceServers: IceServer[];
  try {
    iceServers = iceServersFromLinks(answer.headers.get("link"));
  } catch {
    throw new ContractViolation("ice_servers", "an ice-server Link is malformed", ["Link"]);
  }
  const segments = location.pathname.split("/").filter((segment) => segment !== "");
  const partnerSessionId = (segments.at(-1) ?? "").slice(0, 128);
  return { sessionPath, partnerSessionId, answerSdp: answer.text, iceServers, expiresAt };
}

/** Video adapter: WHEP sessions at the partner. */
export function videoOperations(client: PartnerClient) {
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
        decode: decodeVideoSession,
        hooks: input.hooks,
        signal: input.signal,
      });
    },
    /**
     * Ends the session: `DELETE` on its `Location` (200 or 204, any 2xx); a session the partner
     * no longer knows (404, 410) counts as ended.
     */
    async endSession(input: {
      /** The session's `Location`; without it (rows from before it was kept) our dialect's path. */
      sessionPath: string | null;
      partnerSessionId: string;
      hooks?: CallHooks;
      signal?: AbortSignal;
      /** From the end queue, which backs off on its own (see `CallRequest.bypassBreaker`). */
      bypassBreaker?: boolean;
    }): Promise<{ ended: true }> {
      try {
        return await client.call({
          operation: "video.end_session",
          pathParam: input.partnerSessionId,
          url: input.sessionPath ?? undefined,
          decode: () => ({ ended: true as const }),
          hooks: input.hooks,
          signal: input.signal,
          bypassBreaker: input.bypassBreaker,
        });
      } catch (error) {
        if (error instanceof PartnerRejectedError && (error.status === 404 || error.status === 410))
          return { ended: true };
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

/**
 * Guest keys adapter (intercom partner). The created key's code and QR are in the answer only:
 * the caller hands them to the resident and keeps neither.
 */
export function keysOperations(client: PartnerClient) {
  return {
    create(input: {
      siteId: string;
      subject: string;
      devices: string[];
      validFrom: string;
      validUntil: string;
      maxUses?: number;
      idempotencyKey: string;
      hooks?: CallHooks;
      signal?: AbortSignal;
    }) {
      const body = CreateKeyRequest.parse({
        subject: input.subject,
        devices: input.devices,
        validFrom: input.validFrom,
        validUntil: input.validUntil,
        maxUses: input.maxUses,
      });
      return client.call({
        operation: "keys.create",
        pathParam: input.siteId,
        body,
        idempotencyKey: input.idempotencyKey,
        response: CreatedKey,
        hooks: input.hooks,
        signal: input.signal,
      });
    },
    list(input: { siteId: string; subject: string; hooks?: CallHooks; signal?: AbortSignal }) {
      return client.call({
        operation: "keys.list",
        pathParam: input.siteId,
        query: { subject: input.subject },
        response: KeyList,
        hooks: input.hooks,
        signal: input.signal,
      });
    },
    /** Ends a key; 404/410 (nothing left to end) is the caller's to count as ended. */
    delete(input: {
      keyId: string;
      subject: string;
      hooks?: CallHooks;
      signal?: AbortSignal;
      /** From the end queue, which backs off on its own (see `CallRequest.bypassBreaker`). */
      bypassBreaker?: boolean;
    }) {
      return client.call({
        operation: "keys.delete",
        pathParam: input.keyId,
        query: { subject: input.subject },
        decode: () => ({ deleted: true as const }),
        hooks: input.hooks,
        signal: input.signal,
        bypassBreaker: input.bypassBreaker,
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

/**
 * What the partner said to an erasure: `done` (200 with the counts, or 204 without), or
 * `accepted` (202: it will erase later). Either way it is not sent again.
 */
export type ErasureAnswer =
  | { state: "done"; erased: ErasureResponse["erased"] | null }
  | { state: "accepted" };

function decodeErasure(answer: RawAnswer): ErasureAnswer {
  if (answer.status === 202) return { state: "accepted" };
  if (answer.status === 204 || (answer.status === 200 && answer.text.trim() === ""))
    return { state: "done", erased: null };
  if (answer.status !== 200)
    throw new ContractViolation("status", `expected 200, 202 or 204, got ${answer.status}`);
  let body: unknown;
  try {
    body = JSON.parse(answer.text);
  } catch {
    throw new ContractViolation("not_json", "a body that is not JSON");
  }
  const checked = ErasureResponse.safeParse(body);
  if (!checked.success)
    throw new ContractViolation(
      "schema",
      "a body that breaks the contract",
      issueFields(checked.error.issues),
    );
  return { state: "done", erased: checked.data.erased };
}

/**
 * Where an accepted erasure stands: `done` (with the partner's time, when given), or `pending`
 * with how long the partner asked us to wait (`Retry-After`, seconds; null when it said nothing).
 */
export type ErasureStatusAnswer =
  | { state: "done"; completedAt: string | null }
  | { state: "pending"; retryAfterSeconds: number | null };

function decodeErasureStatus(answer: RawAnswer): ErasureStatusAnswer {
  if (answer.status !== 200)
    throw new ContractViolation("status", `expected 200, got ${answer.status}`);
  let body: unknown;
  try {
    body = JSON.parse(answer.text);
  } catch {
    throw new ContractViolation("not_json", "a body that is not JSON");
  }
  const checked = ErasureStatusResponse.safeParse(body);
  if (!checked.success)
    throw new ContractViolation(
      "schema",
      "a body that breaks the contract",
      issueFields(checked.error.issues),
    );
  if (checked.data.status === "done")
    return { state: "done", completedAt: checked.data.completedAt ?? null };
  const waitMs = parseRetryAfter(answer.headers.get("retry-after"));
  return {
    state: "pending",
    retryAfterSeconds: waitMs === null ? null : Math.ceil(waitMs / 1000),
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
        decode: decodeErasure,
        hooks: input.hooks,
      });
    },
    /** After a 202: has the partner done it yet? */
    erasureStatus(input: { subject: string; hooks?: CallHooks }) {
      return client.call({
        operation: "subjects.erasure_status",
        pathParam: input.subject,
        decode: decodeErasureStatus,
        hooks: input.hooks,
      });
    },
  };
}
