import {
  type ErasureCategory,
  type OperationName,
  PARTNER_OPERATIONS,
} from "@propgate/partner-client/contract";
import type { SimTlsMode } from "./tls.ts";

/** The contract's operations, as the simulator records them (video under its WHEP verbs below). */
type ContractOperation = Exclude<OperationName, "video.create_session" | "video.end_session">;
const CONTRACT_OPERATIONS = PARTNER_OPERATIONS.filter(
  (operation): operation is ContractOperation => !operation.startsWith("video."),
);

export const RECORDED_OPERATIONS = [
  "token",
  "metadata",
  "jwks",
  ...CONTRACT_OPERATIONS,
  "video.create",
  "video.delete",
  "unknown",
] as const;
export type RecordedOperation = (typeof RECORDED_OPERATIONS)[number];

/** Verified claims of the access token a request carried (or, for `token`, of the one issued). */
export interface RecordedTokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  scope: string;
  exp: number;
  iat: number;
  jti: string;
  client_id: string;
}

export type FaultKind =
  | "failNext"
  | "errorRate"
  | "hang"
  | "non-json"
  | "bad-schema"
  | "bad-sdp"
  | "tokenEndpointDown"
  | "failErasures";

/** One request as the sim received it. Secrets and the Authorization header are never kept. */
export interface RecordedRequest {
  seq: number;
  /** Arrival time, ISO 8601. */
  at: string;
  method: string;
  path: string;
  operation: RecordedOperation;
  /**
   * Absent over plain http. `server`: HTTPS. `mutual`: HTTPS on a listener that admits only
   * connections whose client certificate verified against the sim's CA (Bun does not expose the
   * certificate itself, so its subject is not recorded).
   */
  tls?: SimTlsMode;
  /** Status the sim answered; 0 for a request held by the `hang` fault. */
  status: number;
  /** The W3C `traceparent` the request carried, when well formed: the sender's trace joins ours. */
  traceparent?: string;
  clientId?: string;
  tokenClaims?: RecordedTokenClaims;
  /**
   * Parsed JSON body of an open call, as received (also when it was rejected). Plate, face and
   * erasure calls never record their body, only `bodyFields` and the fields below.
   */
  body?: unknown;
  /** Field names of a plate or face body (sorted), never their values. */
  bodyFields?: string[];
  idempotencyKey?: string;
  /** An idempotent replay: answered from the stored response, the device was not opened. */
  replayed?: boolean;
  subject?: string;
  deviceId?: string;
  /** The door or gate was actually opened by this request. */
  opened?: boolean;
  eventId?: string;
  cameraId?: string;
  /** The video session created (`video.create`) or ended (`video.delete`). */
  sessionId?: string;
  /** Size of the SDP offer received; the SDP itself is never recorded. */
  sdpBytes?: number;
  siteId?: string;
  /** The plate as `plates.add` received it (to check the sender normalized it). */
  plate?: string;
  /** The plate record created (`plates.add`) or asked to remove (`plates.remove`). */
  plateId?: string;
  /** The face created (`faces.enroll`) or asked to remove (`faces.remove`). */
  faceId?: string;
  /** Decoded size of the image `faces.enroll` received; the image itself is never recorded. */
  imageBytes?: number;
  /** The categories a `subjects.erase` call asked for (all of them when it named none). */
  categories?: ErasureCategory[];
  /** The injected fault that shaped the answer, if any. */
  fault?: FaultKind;
}

export type RecordFilter =
  | Partial<
      Pick<
        RecordedRequest,
        | "operation"
        | "tls"
        | "status"
        | "clientId"
        | "method"
        | "path"
        | "replayed"
        | "deviceId"
        | "cameraId"
        | "sessionId"
        | "subject"
        | "siteId"
        | "plate"
        | "plateId"
        | "faceId"
        | "fault"
      >
    >
  | ((record: RecordedRequest) => boolean);

export interface Recorder {
  all(filter?: RecordFilter): RecordedRequest[];
  count(filter?: RecordFilter): number;
  /** Requests that actually opened a door or gate (idempotent replays excluded). */
  opens(): RecordedRequest[];
  clear(): void;
  /**
   * Resolves with the first record matching `predicate`, looking at the records already held
   * first and then at new ones as they arrive; rejects after `timeoutMs`.
   */
  waitFor(
    predicate: (record: RecordedRequest) => boolean,
    timeoutMs?: number,
  ): Promise<RecordedRequest>;
}

/** The sim's side of the recorder. */
export interface RecordingRecorder extends Recorder {
  add(record: Omit<RecordedRequest, "seq">): RecordedRequest;
}

const DEFAULT_CAPACITY = 100_000;

function toPredicate(filter: RecordFilter | undefined): (record: RecordedRequest) => boolean {
  if (filter === undefined) return () => true;
  if (typeof filter === "function") return filter;
  const entries = Object.entries(filter);
  return (record) =>
    entries.every(([key, value]) => record[key as keyof RecordedRequest] === value);
}

export function createRecorder(capacity = DEFAULT_CAPACITY): RecordingRecorder {
  let records: RecordedRequest[] = [];
  let seq = 0;
  const slack = Math.max(1, Math.floor(capacity / 10));
  const listeners = new Set<(record: RecordedRequest) => void>();

  return {
    all: (filter) => records.filter(toPredicate(filter)),
    count: (filter) => records.filter(toPredicate(filter)).length,
    opens: () => records.filter((record) => record.opened === true),
    clear() {
      records = [];
    },
    add(input) {
      seq += 1;
      const record: RecordedRequest = { seq, ...input };
      records.push(record);
      // Drop the oldest in chunks so a full buffer is not copied on every request.
      if (records.length >= capacity + slack) records = records.slice(-capacity);
      for (const listener of [...listeners]) listener(record);
      return record;
    },
    waitFor(predicate, timeoutMs = 5000) {
      const existing = records.find(predicate);
      if (existing) return Promise.resolve(existing);
      return new Promise((resolve, reject) => {
        const listener = (record: RecordedRequest) => {
          if (!predicate(record)) return;
          clearTimeout(timer);
          listeners.delete(listener);
          resolve(record);
        };
        const timer = setTimeout(() => {
          listeners.delete(listener);
          reject(new Error(`no matching request recorded within ${timeoutMs} ms`));
        }, timeoutMs);
        listeners.add(listener);
      });
    },
  };
}
