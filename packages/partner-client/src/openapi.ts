import { z } from "zod";
import {
  AddPlateRequest,
  EnrollFaceRequest,
  ErasureCategory,
  ErasureResponse,
  FaceList,
  FaceRecord,
  HealthResponse,
  IdempotencyKey,
  MAX_SDP_BYTES,
  OAuthErrorBody,
  OPERATIONS,
  OpenRequest,
  OpenResponse,
  type OperationName,
  PARTNER_OPERATIONS,
  PARTNER_SCOPES,
  PartnerDeviceId,
  PartnerErrorBody,
  PartnerRecordId,
  type PartnerScope,
  PartnerSessionId,
  Plate,
  PlateList,
  PlateRecord,
  SDP_CONTENT_TYPE,
  SiteId,
  Subject,
  VIDEO_SESSION_EXPIRES_HEADER,
} from "./contract.ts";
import {
  type JsonSchema,
  jsonSchema,
  type OpenApiDocument,
  type OpenApiHeader,
  type OpenApiMethod,
  type OpenApiOperation,
  type OpenApiParameter,
  type OpenApiResponse,
  type SchemaDocs,
  schemaRef,
} from "./openapi-document.ts";

/**
 * The partner API as an OpenAPI 3.1 document: what a partner must serve for Propgate, generated
 * from the contract's zod schemas and its `OPERATIONS` table (committed as
 * docs/openapi/partner-api.json by `bun run openapi`; the partner simulator serves it).
 */

export {
  documentDrift,
  type JsonSchema,
  jsonSchema,
  type OpenApiDocument,
  type OpenApiHeader,
  type OpenApiOperation,
  type OpenApiResponse,
  openApiJson,
  type SchemaDocs,
  schemaRef,
} from "./openapi-document.ts";

/**
 * What oauth4webapi, under our token source, sends to and checks of a partner's authorization
 * server (RFC 6749 §4.4, §5.1; RFC 8414 §2-3). Documentation only: the library does the checks.
 */
const TokenRequest = z.strictObject({
  grant_type: z.literal("client_credentials"),
  scope: z.string().min(1),
});
const TokenResponse = z.object({
  access_token: z.string().min(1),
  token_type: z.string().regex(/^[Bb][Ee][Aa][Rr][Ee][Rr]$/),
  expires_in: z.number().int().positive().optional(),
  scope: z.string().optional(),
});
const AuthorizationServerMetadata = z.object({
  issuer: z.url(),
  token_endpoint: z.url(),
  token_endpoint_auth_methods_supported: z.array(z.string()).optional(),
  grant_types_supported: z.array(z.string()).optional(),
  scopes_supported: z.array(z.string()).optional(),
});

/** The document's schemas: requests as we write them, answers as we read them. */
const SCHEMAS = {
  OpenRequest: [OpenRequest, "output"],
  OpenResponse: [OpenResponse, "input"],
  AddPlateRequest: [AddPlateRequest, "output"],
  PlateRecord: [PlateRecord, "input"],
  PlateList: [PlateList, "input"],
  EnrollFaceRequest: [EnrollFaceRequest, "output"],
  FaceRecord: [FaceRecord, "input"],
  FaceList: [FaceList, "input"],
  ErasureResponse: [ErasureResponse, "input"],
  HealthResponse: [HealthResponse, "input"],
  PartnerErrorBody: [PartnerErrorBody, "input"],
  TokenRequest: [TokenRequest, "output"],
  TokenResponse: [TokenResponse, "input"],
  AuthorizationServerMetadata: [AuthorizationServerMetadata, "input"],
  OAuthErrorBody: [OAuthErrorBody, "input"],
} as const satisfies Record<string, readonly [z.ZodType, "input" | "output"]>;
type SchemaName = keyof typeof SCHEMAS;

function schemaDocs(): SchemaDocs {
  const docs: SchemaDocs = z.registry<{ description: string }>();
  const describe = (schema: z.ZodType, description: string) => docs.add(schema, { description });
  describe(
    Subject,
    "The resident's pseudonym at your service: HMAC-SHA256 of Propgate's user id under a key " +
      "of yours alone, base64url without padding (43 characters). Stable per resident and " +
      "partner; it says nothing about the person.",
  );
  describe(
    Plate,
    "A Russian registration plate, normalized: Latin look-alike letters (А→A, В→B, Е→E, К→K, " +
      "М→M, Н→H, О→O, Р→P, С→C, Т→T, У→Y, Х→X), no spaces: `A123BC77`, `A123BC777`, taxis `AB12377`.",
  );
  describe(OpenRequest, "Exactly the subject who asked to open; nothing else is sent.");
  describe(OpenResponse, "What you did. Fields beyond these are ignored.");
  describe(OpenResponse.shape.eventId, "Your id of the open; the resident's app is given it.");
  describe(OpenResponse.shape.openedAt, "When the device opened (RFC 3339, with an offset).");
  describe(AddPlateRequest, "A plate to let through at the site, for this subject.");
  describe(
    AddPlateRequest.shape.validUntil,
    "The last moment the plate is let through (RFC 3339); absent: no end.",
  );
  describe(PlateRecord, "A plate you hold for a subject at a site. Other fields are ignored.");
  describe(PlateRecord.shape.id, "Your id of the record; Propgate removes the plate by it.");
  describe(PlateRecord.shape.validUntil, "The last moment it is let through; null: no end.");
  describe(PlateList, "The subject's plates at the site (at most 1000).");
  describe(EnrollFaceRequest, "A face photo to recognise this subject by.");
  describe(
    EnrollFaceRequest.shape.image,
    "The photo, a JPEG, base64 (at most 5 MiB decoded). Propgate keeps no copy.",
  );
  describe(FaceRecord, "A face you hold for a subject. Other fields are ignored.");
  describe(FaceRecord.shape.faceId, "Your id of the face; Propgate removes it by this id.");
  describe(FaceList, "The subject's faces (at most 100).");
  describe(
    ErasureResponse,
    "What was erased. `subject`, when present, is not used; unknown fields are ignored.",
  );
  describe(
    ErasureResponse.shape.erased,
    "How many records of each category you erased (0 when you held none).",
  );
  describe(
    HealthResponse.shape.status,
    "`ok` passes Propgate's health probe; `degraded` fails it (and, repeated, alerts).",
  );
  describe(
    PartnerErrorBody,
    "Every error answer of your API. Propgate reads `error` and nothing else.",
  );
  describe(
    PartnerErrorBody.shape.error,
    "A plain snake_case code (`unknown_device`, `rate_limited`): one to four lower-case words " +
      "joined by `_`. Propgate's audit trail keeps it; anything else is kept as `http_<status>`.",
  );
  describe(
    PartnerErrorBody.shape.message,
    "For people reading your logs; Propgate neither stores nor shows it.",
  );
  describe(TokenRequest, "RFC 6749 §4.4.2, form-encoded.");
  describe(
    TokenRequest.shape.scope,
    "The scopes of one operation, space-separated (in practice one scope per token).",
  );
  describe(TokenResponse, "RFC 6749 §5.1. Other fields are ignored.");
  describe(TokenResponse.shape.token_type, "`Bearer` (any case); any other type is refused.");
  describe(
    TokenResponse.shape.expires_in,
    "Lifetime in seconds; absent: taken as 300. Propgate reuses the token and asks for a new " +
      "one before it expires (max(60 s, 10 %) early).",
  );
  describe(
    AuthorizationServerMetadata,
    "RFC 8414 §2. Propgate uses `issuer` (it must equal the issuer configured for you, " +
      "character for character) and `token_endpoint`; other fields are ignored.",
  );
  describe(OAuthErrorBody, "RFC 6749 §5.2 error of the token endpoint.");
  return docs;
}

const SCOPE_PURPOSE: Record<PartnerScope, string> = {
  "intercom.open": "Open an intercom's door.",
  "barrier.open": "Open a barrier's gate.",
  "plates.manage": "List, add and remove the plates of a subject at a site.",
  "faces.manage": "List, enroll and remove the faces of a subject.",
  "video.view": "Start and end a live video session of a camera.",
  "subjects.erase": "Erase what you hold for a subject.",
  "health.read": "Read your API's health (Propgate's health probe).",
};

type Tag = OperationName extends infer N
  ? N extends `${infer Prefix}.${string}`
    ? Prefix
    : N
  : never;

const TAGS: Record<Tag | "oauth", string> = {
  oauth: "Your OAuth 2.0 authorization server: discovery and the client-credentials token.",
  intercom: "The smart intercom: doors.",
  barrier: "The smart barrier: gates.",
  video: "Live video of a camera, as WHEP sessions (draft-ietf-wish-whep).",
  plates: "Plates let through at a site (the barrier partner).",
  faces: "Faces recognised at doors (the intercom partner).",
  subjects: "Erasure of a subject's personal data (152-FZ).",
  health: "Whether your API works.",
};

interface PathParam {
  name: string;
  schema: z.ZodType;
  description: string;
}

interface OperationDoc {
  summary: string;
  description: string;
  /** The path's parameters, in the order `OPERATIONS[…].path` takes them. */
  path: readonly PathParam[];
  query?: readonly Omit<OpenApiParameter, "in">[];
  idempotencyKey?: true;
  body?: { schema: SchemaName; description: string } | "sdp";
  answers: Record<string, OpenApiResponse>;
  /** Errors that mean something particular for this operation. */
  errors?: Record<string, string>;
}

const DEVICE_ID = (what: string): PathParam => ({
  name: "deviceId",
  schema: PartnerDeviceId,
  description: `Your id of the ${what}, as registered with Propgate.`,
});
const SITE_ID: PathParam = {
  name: "siteId",
  schema: SiteId,
  description: "The site (estate, building) as Propgate names it.",
};
const SUBJECT_QUERY = {
  name: "subject",
  required: true,
  description: "The resident's pseudonym: only their records are meant.",
  schema: jsonSchema(Subject, "output"),
};

function json(description: string, schema: SchemaName): OpenApiResponse {
  return { description, content: { "application/json": { schema: schemaRef(schema) } } };
}

const SDP_BODY = { schema: { type: "string", minLength: 1, maxLength: MAX_SDP_BYTES } };

const ICE_SERVER_LINKS: OpenApiHeader = {
  description:
    "The ICE servers (STUN/TURN) the resident's app should use, one link each " +
    '(draft-ietf-wish-whep §4.4): `<turn:turn.example:3478?transport=udp>; rel="ice-server"; ' +
    'username="…"; credential="…"`. At most 4; links of other relations are ignored; a ' +
    "malformed ice-server link makes the answer unusable.",
  schema: { type: "string" },
};

function videoAnswer(description: string): OpenApiResponse {
  return {
    description,
    headers: {
      Location: {
        description:
          "The session's URL: any path on your origin, absolute or relative to the request URL " +
          "(`/v1/sessions/{sessionId}` in the reference implementation). Propgate ends the " +
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

const OPERATION_DOCS: Record<OperationName, OperationDoc> = {
  "intercom.open": {
    summary: "Open a door",
    description:
      "A resident asked to open this door in the tenant app; Propgate checked their consent and site.",
    path: [DEVICE_ID("intercom (door)")],
    idempotencyKey: true,
    body: { schema: "OpenRequest", description: "Who asked." },
    answers: {
      "200": json("Opened.", "OpenResponse"),
      "201": json("Opened (201 is taken as 200).", "OpenResponse"),
    },
    errors: {
      "404": "No such door at your service.",
      "422": "The Idempotency-Key was used before with a different body.",
    },
  },
  "barrier.open": {
    summary: "Open a gate",
    description:
      "A resident asked to open this gate in the tenant app; Propgate checked their consent and site.",
    path: [DEVICE_ID("barrier (gate)")],
    idempotencyKey: true,
    body: { schema: "OpenRequest", description: "Who asked." },
    answers: {
      "200": json("Opened.", "OpenResponse"),
      "201": json("Opened (201 is taken as 200).", "OpenResponse"),
    },
    errors: {
      "404": "No such gate at your service.",
      "422": "The Idempotency-Key was used before with a different body.",
    },
  },
  "video.create_session": {
    summary: "Start a live video session (WHEP)",
    description:
      "The body is the resident app's SDP offer: receive-only video (audio optional), " +
      "DTLS-SRTP, ICE credentials; Propgate checked it before sending. Answer with your SDP: " +
      "send-only (or inactive) sections with ICE credentials, DTLS fingerprints and at least " +
      "one candidate, and video sent. The app then connects to your media server directly; " +
      "no media passes through Propgate, which keeps no SDP.",
    path: [
      {
        name: "cameraId",
        schema: PartnerDeviceId,
        description: "Your id of the camera, as registered with Propgate.",
      },
    ],
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
    path: [
      {
        name: "sessionId",
        schema: PartnerSessionId,
        description: "Your id of the session (the last segment of its Location).",
      },
    ],
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
    path: [SITE_ID],
    query: [SUBJECT_QUERY],
    answers: { "200": json("The plates.", "PlateList") },
    errors: { "404": "No such site at your service." },
  },
  "plates.add": {
    summary: "Let a plate through at a site",
    description: "A resident added their car's plate; let it through this site's barriers.",
    path: [SITE_ID],
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
    path: [
      SITE_ID,
      { name: "plateId", schema: PartnerRecordId, description: "Your id of the plate record." },
    ],
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
    path: [],
    query: [SUBJECT_QUERY],
    answers: { "200": json("The faces.", "FaceList") },
  },
  "faces.enroll": {
    summary: "Enroll a face",
    description:
      "A resident enrolled a photo of their face, to be let through doors by it. The photo " +
      "exists at Propgate only in memory for this call.",
    path: [],
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
    path: [{ name: "faceId", schema: PartnerRecordId, description: "Your id of the face." }],
    query: [SUBJECT_QUERY],
    answers: {
      "200": { description: "Removed; any body is ignored." },
      "204": { description: "Removed." },
    },
    errors: { "404": "No such face for this subject." },
  },
  "subjects.erase": {
    summary: "Erase a subject's data",
    description:
      "A resident revoked consent for faces or plates: erase what you hold for them in those " +
      "categories. Sent from a durable queue, again with back-off until you answer 2xx, so " +
      "it must be idempotent (erasing nothing is success). Propgate must see it done within " +
      "the legal limit; keep 202 for work that truly finishes later.",
    path: [{ name: "subject", schema: Subject, description: "Whose data to erase." }],
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
      "202": { description: "Accepted: you will erase later. Propgate does not send it again." },
      "204": { description: "Erased." },
    },
    errors: { "400": "An unknown category." },
  },
  health: {
    summary: "Health",
    description:
      "Called by Propgate's health probe on an interval (15 s by default) with a token of its own.",
    path: [],
    answers: { "200": json("Your API's state.", "HealthResponse") },
  },
};

const RETRY_AFTER: OpenApiHeader = {
  description:
    "Seconds, or an HTTP date (RFC 9110 §10.2.3): when to try again. Honoured when it fits " +
    "the call's deadline; a longer wait ends the call as unavailable.",
  schema: { type: "string" },
};

function errorAnswer(description: string, headers?: Record<string, OpenApiHeader>) {
  const answer = json(description, "PartnerErrorBody");
  return headers ? { ...answer, headers } : answer;
}

/** The errors every operation may answer, and what Propgate does with each. */
function commonErrors(retried: boolean): Record<string, OpenApiResponse> {
  const retry = retried
    ? "Retried (at most 3 attempts in all, within the call's deadline)"
    : "Not retried: this POST carries no Idempotency-Key";
  return {
    "400": errorAnswer("The request breaks your rules. Ends the call; your `error` is kept."),
    "401": errorAnswer(
      "The token is missing, expired or not yours. Propgate gets a new token and sends the " +
        "request once more; a second 401 counts as you being unavailable and alerts.",
    ),
    "403": errorAnswer(
      "The token lacks the operation's scope, or this client may not act on the resource. " +
        "Ends the call; the resident is told you refused.",
    ),
    "429": errorAnswer(`You are limiting Propgate. ${retry}.`, { "Retry-After": RETRY_AFTER }),
    "503": errorAnswer(`You are unavailable for a while. ${retry}; other 5xx likewise.`, {
      "Retry-After": RETRY_AFTER,
    }),
    default: errorAnswer(
      "Any other status: another 4xx ends the call as refused; a 5xx is taken as 503.",
    ),
  };
}

/** Turns `OPERATIONS[…].path` into an OpenAPI path template, `{name}` per parameter. */
function pathTemplate(name: OperationName, params: readonly PathParam[]): string {
  const [first, second] = params.map((param) => `__${param.name}__`);
  const template = OPERATIONS[name].path(first ?? "", second).replace(/__([A-Za-z]+)__/g, "{$1}");
  const named = [...template.matchAll(/\{([A-Za-z]+)\}/g)].map((match) => match[1]);
  if (named.join() !== params.map((param) => param.name).join()) {
    throw new Error(`${name}: the path ${template} does not take the parameters documented`);
  }
  return template;
}

function partnerOperation(name: OperationName, docs: SchemaDocs): OpenApiOperation {
  const spec = OPERATIONS[name];
  const doc = OPERATION_DOCS[name];
  const retried = spec.method !== "POST" || doc.idempotencyKey === true;
  const served =
    spec.partner === null
      ? "Served by both partners, each for its own devices and data."
      : `Served by the ${spec.partner} partner.`;
  const parameters: OpenApiParameter[] = [
    ...doc.path.map((param) => ({
      name: param.name,
      in: "path" as const,
      required: true,
      description: param.description,
      schema: jsonSchema(param.schema, "output"),
    })),
    ...(doc.query ?? []).map((param) => ({ ...param, in: "query" as const })),
  ];
  if (doc.idempotencyKey) {
    parameters.push({
      name: "Idempotency-Key",
      in: "header",
      required: true,
      description:
        "The same key on a repeat of the same request (a retry after a timeout or a 5xx): " +
        "answer it with the first answer, without acting twice (draft-ietf-httpapi-idempotency-key-header).",
      schema: jsonSchema(IdempotencyKey, "output", docs),
    });
  }
  const errors: Record<string, OpenApiResponse> = {};
  for (const [status, description] of Object.entries(doc.errors ?? {})) {
    errors[status] = errorAnswer(description);
  }
  const operation: OpenApiOperation = {
    operationId: name,
    summary: doc.summary,
    description: [
      doc.description,
      `Scope \`${spec.scope}\`. ${served}`,
      retried
        ? "Safe to retry: Propgate may send it again after a timeout, a 429 or a 5xx."
        : "Sent once: not retried after a timeout, a 429 or a 5xx.",
    ].join("\n\n"),
    tags: [name.split(".")[0] ?? name],
    security: [{ partnerOAuth: [spec.scope] }],
    responses: { ...doc.answers, ...commonErrors(retried), ...errors },
  };
  if (parameters.length > 0) operation.parameters = parameters;
  if (doc.body === "sdp") {
    operation.requestBody = {
      required: true,
      description: `The SDP offer (${SDP_CONTENT_TYPE}, at most ${MAX_SDP_BYTES} bytes).`,
      content: { [SDP_CONTENT_TYPE]: SDP_BODY },
    };
  } else if (doc.body) {
    operation.requestBody = {
      required: true,
      description: doc.body.description,
      content: { "application/json": { schema: schemaRef(doc.body.schema) } },
    };
  }
  return operation;
}

const NO_STORE: OpenApiHeader = {
  description: "`no-store`, as RFC 6749 §5.1 asks.",
  schema: { type: "string" },
};

function oauthPaths(): OpenApiDocument["paths"] {
  return {
    "/.well-known/oauth-authorization-server": {
      get: {
        operationId: "oauth.metadata",
        summary: "Authorization server metadata (RFC 8414)",
        description:
          "Read before the first token (once per Propgate process) when Propgate is configured " +
          "with your issuer (PARTNER_<P>_ISSUER); `issuer` must equal it exactly. For an " +
          "issuer with a path, RFC 8414 §3 puts the path after this one " +
          "(`/.well-known/oauth-authorization-server/tenant`). Not needed when Propgate is " +
          "given your token URL instead (PARTNER_<P>_TOKEN_URL).",
        tags: ["oauth"],
        security: [],
        responses: { "200": json("Your metadata.", "AuthorizationServerMetadata") },
      },
    },
    "/oauth/token": {
      post: {
        operationId: "oauth.token",
        summary: "Client-credentials token (RFC 6749 §4.4)",
        description:
          "Wherever your metadata's `token_endpoint` (or PARTNER_<P>_TOKEN_URL) says; " +
          "`/oauth/token` is the reference path. Propgate authenticates with the client id and " +
          "secret you issued for the environment as `client_secret_basic` (HTTP Basic; the " +
          "credentials are never in the form). It asks for one operation's scope at a time, " +
          "caches each token until shortly before it expires, and asks again after a 401. " +
          "While this endpoint fails, calls fail as unavailable and Propgate backs off.",
        tags: ["oauth"],
        security: [{ clientSecretBasic: [] }],
        requestBody: {
          required: true,
          description: "The grant and the scope.",
          content: { "application/x-www-form-urlencoded": { schema: schemaRef("TokenRequest") } },
        },
        responses: {
          "200": {
            ...json("A bearer token.", "TokenResponse"),
            headers: { "Cache-Control": NO_STORE },
          },
          "400": json("A bad request (`invalid_request`, `invalid_scope`, …).", "OAuthErrorBody"),
          "401": json(
            "The client could not be authenticated (`invalid_client`).",
            "OAuthErrorBody",
          ),
        },
      },
    },
  };
}

/** The OpenAPI 3.1 document of what a partner must serve for Propgate. */
export function partnerApiDocument(): OpenApiDocument {
  const docs = schemaDocs();
  const paths: OpenApiDocument["paths"] = oauthPaths();
  for (const name of PARTNER_OPERATIONS) {
    const template = pathTemplate(name, OPERATION_DOCS[name].path);
    const method = OPERATIONS[name].method.toLowerCase() as OpenApiMethod;
    paths[template] = { ...paths[template], [method]: partnerOperation(name, docs) };
  }
  const schemas: Record<string, JsonSchema> = {};
  for (const [name, [schema, io]] of Object.entries(SCHEMAS)) {
    schemas[name] = jsonSchema(schema, io, docs);
  }
  const operationsOf = (scope: PartnerScope) =>
    PARTNER_OPERATIONS.filter((name) => OPERATIONS[name].scope === scope).join(", ");
  return {
    openapi: "3.1.1",
    info: {
      title: "Propgate partner API",
      version: "v1",
      description: PARTNER_API_INTRO,
    },
    servers: [
      {
        url: "{baseUrl}",
        description:
          "Your API's base URL for one environment (Propgate's PARTNER_<P>_BASE_URL), reached " +
          "over the VPN. Paths append to it; a path prefix is kept.",
        variables: {
          baseUrl: {
            default: "https://partner.example",
            description: "https://, with your certificate (and mTLS when agreed).",
          },
        },
      },
    ],
    tags: Object.entries(TAGS).map(([name, description]) => ({ name, description })),
    paths,
    components: {
      schemas,
      securitySchemes: {
        partnerOAuth: {
          type: "oauth2",
          description:
            "Bearer tokens from your authorization server, client-credentials grant. Each " +
            "request's token was asked for with its operation's scope only.",
          flows: {
            clientCredentials: {
              tokenUrl: "/oauth/token",
              scopes: Object.fromEntries(
                PARTNER_SCOPES.map((scope) => [
                  scope,
                  `${SCOPE_PURPOSE[scope]} Operations: ${operationsOf(scope)}.`,
                ]),
              ),
            },
          },
        },
        clientSecretBasic: {
          type: "http",
          scheme: "basic",
          description:
            "client_secret_basic (RFC 6749 §2.3.1): the form-encoded client id and secret, " +
            "joined by `:`, base64.",
        },
      },
    },
  };
}

const PARTNER_API_INTRO = `What a partner (the smart intercom, the smart barrier) serves for Propgate, \
the gateway between PropDevelopment's tenant app and its partners. Generated from Propgate's \
partner contract (\`packages/partner-client/src/contract.ts\`) by \`bun run openapi\`; do not edit.

- **Transport.** Propgate reaches your base URL only through the WireGuard VPN, over HTTPS \
(with a client certificate when agreed).
- **Authentication.** Every request carries \`Authorization: Bearer <token>\`, a token Propgate got \
from your authorization server with the client-credentials grant, asked for with exactly the \
operation's scope (see each operation). Answer 401 to a token you do not accept, 403 to one \
without the scope.
- **Requests are strict.** JSON bodies carry exactly the fields shown (\`additionalProperties: \
false\`); nothing about a resident but a per-partner pseudonym (\`subject\`) is ever sent.
- **Answers are read tolerantly.** The fields Propgate uses must be there and valid; fields it \
does not know are ignored, so you may add some without notice. 200 and 201 are both taken as \
success where an operation creates or opens something.
- **Errors** are \`{"error": "<code>", "message": "<text>"}\` with a plain snake_case \`error\`. \
401: a new token and one replay. 429 and 5xx: retried, honouring \`Retry-After\`, for GET, DELETE \
and POSTs with an \`Idempotency-Key\` only. Other 4xx: the call ends and the resident is told you \
refused.
- **Idempotency.** Opening a door or a gate carries \`Idempotency-Key\`; a repeat with the same \
key must get the first answer without a second open.`;
