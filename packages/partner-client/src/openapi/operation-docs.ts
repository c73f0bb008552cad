import {
  jsonSchema,
  type OpenApiParameter,
  type OpenApiResponse,
  textHeader,
} from "@propgate/openapi";
import { z } from "zod";
import {
  ErasureCategory,
  MAX_SDP_BYTES,
  OPERATIONS,
  type OperationName,
  PartnerDeviceId,
  PartnerKeyId,
  PartnerRecordId,
  PartnerSessionId,
  type PathParamName,
  SDP_CONTENT_TYPE,
  SiteId,
  Subject,
  VIDEO_SESSION_EXPIRES_HEADER,
} from "../contract.ts";
import { json, type SchemaName } from "./schemas.ts";

/** What the partner API document says of each operation beyond `OPERATIONS`. */

export interface PathParam {
  schema: z.ZodType;
  description: string;
}

/** Each parameter of the operation's path template, by name: the compiler checks there are all. */
type PathParams<N extends OperationName> = Record<
  PathParamName<(typeof OPERATIONS)[N]["path"]>,
  PathParam
>;

export interface OperationDoc<N extends OperationName> {
  summary: string;
  description: string;
  path: PathParams<N>;
  query?: readonly Omit<OpenApiParameter, "in">[];
  idempotencyKey?: true;
  body?: { schema: SchemaName; description: string } | "sdp";
  answers: Record<string, OpenApiResponse>;
  /** Errors that mean something particular for this operation. */
  errors?: Record<string, string>;
}

const DEVICE_ID = (what: string): PathParam => ({
  schema: PartnerDeviceId,
  description: `Your id of the ${what}, as registered with Propgate.`,
});
const SITE_ID: PathParam = {
  schema: SiteId,
  description: "The site (estate, building) as Propgate names it.",
};
const SUBJECT_QUERY = {
  name: "subject",
  required: true,
  description: "The resident's pseudonym: only their records are meant.",
  schema: jsonSchema(Subject, "output"),
};

export const SDP_BODY = { schema: { type: "string", minLength: 1, maxLength: MAX_SDP_BYTES } };

const ICE_SERVER_LINKS = textHeader(
  "The ICE servers (STUN/TURN) the resident's app should use, one link each " +
    '(draft-ietf-wish-whep §4.4): `<turn:turn.example:3478?transport=udp>; rel="ice-server"; ' +
    'username="…"; credential="…"`. At most 4; links of other relations are ignored; a ' +
    "malformed ice-server link makes the answer unusable.",
);

function videoAnswer(description: string): OpenApiResponse {
  return {
    description,
    headers: {
      Location: {
        description:
          "The session's URL: any path on your origin, absolute or relative to the request URL " +
          `(\`${OPERATIONS["video.end_session"].path}\` in the reference implementation). Propgate ends the ` +
          "session with `DELETE` on it. A Location on another origin is refused.",
        required: true,
        schema: { type: "string", format: "uri-reference", maxLength: 1024 },
      },
      Link: ICE_SERVER_LINKS,
      [VIDEO_SESSION_EXPIRES_HEADER.replace(/(^|-)[a-z]/g, (start) => start.toUpperCase())]: {
        description:
          "Optional: when you will end the session (RFC 3339), in the future and within a day. " +
          "Without it Propgate ends the session after its own maximum.",
        schema: { type: "string", format: "date-time" },
      },
    },
    content: { [SDP_CONTENT_TYPE]: SDP_BODY },
  };
}

/** A door's or a gate's open: the two differ only in the word. */
function openDoc(
  word: "door" | "gate",
  kind: string,
): OperationDoc<"intercom.open" | "barrier.open"> {
  return {
    summary: `Open a ${word}`,
    description: `A resident asked to open this ${word} in the tenant app; Propgate checked their consent and site.`,
    path: { deviceId: DEVICE_ID(kind) },
    idempotencyKey: true,
    body: { schema: "OpenRequest", description: "Who asked." },
    answers: {
      "200": json("Opened.", "OpenResponse"),
      "201": json("Opened (201 is taken as 200).", "OpenResponse"),
    },
    errors: {
      "404": `No such ${word} at your service.`,
      "422": "The Idempotency-Key was used before with a different body.",
    },
  };
}

export const OPERATION_DOCS: { [N in OperationName]: OperationDoc<N> } = {
  "intercom.open": openDoc("door", "intercom (door)"),
  "barrier.open": openDoc("gate", "barrier (gate)"),
  "video.create_session": {
    summary: "Start a live video session (WHEP)",
    description:
      "The body is the resident app's SDP offer: receive-only video (audio optional), " +
      "DTLS-SRTP, ICE credentials; Propgate checked it before sending. Answer with your SDP: " +
      "send-only (or inactive) sections with ICE credentials, DTLS fingerprints and at least " +
      "one candidate, and video sent. The app then connects to your media server directly; " +
      "no media passes through Propgate, which keeps no SDP.",
    path: {
      cameraId: {
        schema: PartnerDeviceId,
        description: "Your id of the camera, as registered with Propgate.",
      },
    },
    body: "sdp",
    answers: {
      "201": videoAnswer("The session exists; the body is your SDP answer."),
      "200": videoAnswer("The same as 201, accepted too."),
    },
    errors: {
      "400": "The offer is not SDP you accept.",
      "404": "No such camera at your service.",
      "413": `The offer is larger than you accept (Propgate sends at most ${MAX_SDP_BYTES} bytes).`,
      "415": `The body is not ${SDP_CONTENT_TYPE}.`,
    },
  },
  "video.end_session": {
    summary: "End a live video session",
    description:
      "Sent to the `Location` your create answer gave, wherever on your origin that is; this " +
      "path is the reference implementation's. Propgate ends a session when the resident " +
      "leaves, revokes video consent, or the session outlives its time.",
    path: {
      sessionId: {
        schema: PartnerSessionId,
        description: "Your id of the session (the last segment of its Location).",
      },
    },
    answers: {
      "200": { description: "Ended; any body is ignored." },
      "204": { description: "Ended." },
    },
    errors: {
      "404": "No such session: Propgate counts it as ended.",
      "410": "The session is gone: Propgate counts it as ended.",
    },
  },
  "plates.list": {
    summary: "List a subject's plates at a site",
    description: "What the resident sees as their plates at this site.",
    path: { siteId: SITE_ID },
    query: [SUBJECT_QUERY],
    answers: { "200": json("The plates.", "PlateList") },
    errors: { "404": "No such site at your service." },
  },
  "plates.add": {
    summary: "Let a plate through at a site",
    description: "A resident added their car's plate; let it through this site's barriers.",
    path: { siteId: SITE_ID },
    body: { schema: "AddPlateRequest", description: "The plate and whose it is." },
    answers: {
      "200": json("Added.", "PlateRecord"),
      "201": json("Added (201 is taken as 200).", "PlateRecord"),
    },
    errors: {
      "404": "No such site at your service.",
      "409": "The subject already has this plate at this site.",
      "422": "A limit of yours is reached (too many plates for the subject at the site).",
    },
  },
  "plates.remove": {
    summary: "Stop letting a plate through",
    description: "A resident removed a plate; `subject` says whose it must be.",
    path: {
      siteId: SITE_ID,
      plateId: { schema: PartnerRecordId, description: "Your id of the plate record." },
    },
    query: [SUBJECT_QUERY],
    answers: {
      "200": { description: "Removed; any body is ignored." },
      "204": { description: "Removed." },
    },
    errors: { "404": "No such plate for this subject." },
  },
  "faces.list": {
    summary: "List a subject's faces",
    description: "What the resident sees as their enrolled faces.",
    path: {},
    query: [SUBJECT_QUERY],
    answers: { "200": json("The faces.", "FaceList") },
  },
  "faces.enroll": {
    summary: "Enroll a face",
    description:
      "A resident enrolled a photo of their face, to be let through doors by it. The photo " +
      "exists at Propgate only in memory for this call.",
    path: {},
    body: { schema: "EnrollFaceRequest", description: "The photo and whose it is." },
    answers: {
      "200": json("Enrolled.", "FaceRecord"),
      "201": json("Enrolled (201 is taken as 200).", "FaceRecord"),
    },
    errors: { "422": "The image is not a usable JPEG face photo, or a limit of yours is reached." },
  },
  "faces.remove": {
    summary: "Remove a face",
    description: "A resident removed an enrolled face; `subject` says whose it must be.",
    path: { faceId: { schema: PartnerRecordId, description: "Your id of the face." } },
    query: [SUBJECT_QUERY],
    answers: {
      "200": { description: "Removed; any body is ignored." },
      "204": { description: "Removed." },
    },
    errors: { "404": "No such face for this subject." },
  },
  "keys.create": {
    summary: "Issue a guest key",
    description:
      "A resident asked for a key for a visitor or a courier at these doors of the site, valid " +
      "from `validFrom` to `validUntil` (and for `maxUses` entries when given). Your panels " +
      "accept the code; Propgate hands it to the resident once and keeps no copy.",
    path: { siteId: SITE_ID },
    idempotencyKey: true,
    body: { schema: "CreateKeyRequest", description: "The doors, the validity and whose it is." },
    answers: {
      "201": json("Issued; the code (and QR) go to the resident once.", "CreatedKey"),
      "200": json("Issued (200 is taken as 201).", "CreatedKey"),
    },
    errors: {
      "404": "No such site, or a door not at this site.",
      "422":
        "The Idempotency-Key was used before with a different body, or a limit of yours is reached.",
    },
  },
  "keys.list": {
    summary: "List a subject's guest keys at a site",
    description:
      "The subject's keys still valid at this site. Leave the codes out: Propgate drops them.",
    path: { siteId: SITE_ID },
    query: [SUBJECT_QUERY],
    answers: { "200": json("The keys.", "KeyList") },
    errors: { "404": "No such site at your service." },
  },
  "keys.delete": {
    summary: "End a guest key",
    description:
      "The resident revoked the key, or lost the right to give it (consent revoked, site " +
      "left, blocked, erased). Sent from a durable queue until you answer 2xx, so it must be " +
      "idempotent; `subject` says whose the key must be.",
    path: { keyId: { schema: PartnerKeyId, description: "Your id of the key." } },
    query: [SUBJECT_QUERY],
    answers: {
      "200": { description: "Ended; any body is ignored." },
      "204": { description: "Ended." },
    },
    errors: { "404": "No such key for this subject: Propgate counts it as ended." },
  },
  "subjects.erase": {
    summary: "Erase a subject's data",
    description:
      "A resident revoked consent for faces or plates: erase what you hold for them in those " +
      "categories. Sent from a durable queue, again with back-off until you answer 2xx, so " +
      "it must be idempotent (erasing nothing is success). Propgate must see it done within " +
      "the legal limit; keep 202 for work that truly finishes later.",
    path: { subject: { schema: Subject, description: "Whose data to erase." } },
    query: [
      {
        name: "categories",
        required: true,
        description:
          "What to erase, comma-separated and sorted: `faces`, `plates` or `faces,plates`.",
        schema: jsonSchema(z.array(ErasureCategory).min(1), "output"),
        style: "form",
        explode: false,
      },
    ],
    answers: {
      "200": json("Erased; the body says how much.", "ErasureResponse"),
      "202": {
        description:
          "Accepted: you will erase later. Propgate does not send it again; it asks " +
          "`GET /v1/subjects/{subject}/erasure` until you say done.",
      },
      "204": { description: "Erased." },
    },
    errors: { "400": "An unknown category." },
  },
  "subjects.erasure_status": {
    summary: "State of an accepted erasure",
    description:
      "After a 202 to the erasure, Propgate asks here until you say `done` (honouring " +
      "`Retry-After`, else backing off), and raises an alert to its operators when that has not " +
      "happened within its deadline (25 days by default; the law allows 30).",
    path: { subject: { schema: Subject, description: "Whose erasure." } },
    answers: {
      "200": json(
        "Where the erasure stands; while `pending`, `Retry-After` may say when to ask again.",
        "ErasureStatusResponse",
      ),
    },
    errors: { "404": "No erasure for this subject: Propgate asks again later." },
  },
  health: {
    summary: "Health",
    description:
      "Called by Propgate's health probe on an interval (15 s by default) with a token of its own.",
    path: {},
    answers: { "200": json("Your API's state.", "HealthResponse") },
  },
};
