import { ERROR_CODES, type ErrorCode } from "@propgate/domain";
import {
  describeSchemas,
  type JsonSchema,
  jsonAnswer,
  jsonSchema,
  type OpenApiDocument,
  type OpenApiOperation,
  type OpenApiResponse,
  openApiDocument,
  rateLimitHeaders,
  requiredBody,
  retryAfterSeconds,
  schemaRef,
  textHeader,
} from "@propgate/openapi";
import { type AnyProcedure, TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import { z } from "zod";
import { describeCause } from "./errors.ts";
import { ResidentEvent } from "./events/resident-event.ts";
import { type AppRouter, appRouter } from "./root.ts";

/**
 * The resident api as it travels over tRPC's HTTP, as an OpenAPI 3.1 document: one path per
 * procedure (`GET /trpc/<query>?input=<JSON>`, `POST /trpc/<mutation>` with the JSON input), the
 * `{ result: { data } }` answer and the error envelope with every `cause.code`. Built from the
 * procedures' own zod inputs and `.output()` schemas (committed as
 * docs/openapi/resident-api.json by `bun run openapi`; served at `/openapi.json` outside
 * production). `admin.*` is not in it.
 */

type PathsOf<R, P extends string = ""> = {
  [K in keyof R & string]: R[K] extends AnyProcedure ? `${P}${K}` : PathsOf<R[K], `${P}${K}.`>;
}[keyof R & string];
/** Every resident procedure's path, from the router's type: the docs below must name each. */
type ResidentProcedure = Exclude<PathsOf<AppRouter["_def"]["record"]>, `admin.${string}`>;

interface ProcedureDoc {
  summary: string;
  description: string;
  /** Causes that mean something particular for this procedure. */
  errors?: Partial<Record<ErrorCode, string>>;
  /** An input for the embedded default (its seeded sites and devices). */
  example?: unknown;
}

const PARTNER_CALL =
  "Calls the partner: the device or site must be one of the token's sites, the purpose's " +
  "consent granted, and the resident not blocked.";

const DOCS: Record<ResidentProcedure, ProcedureDoc> = {
  "devices.list": {
    summary: "The devices of the resident's sites",
    description: "Doors, gates and cameras of the sites in the resident's token, by site and name.",
  },
  "intercom.openDoor": {
    summary: "Open a door",
    description:
      `${PARTNER_CALL} Counted against the per-resident open limit. The same ` +
      "`idempotencyKey` again (a retry after a timeout, a 429 or a 503) answers the first " +
      "open's result without opening twice; without one every call is a new open, and a " +
      "client must not retry it. `@propgate/client` sends a fresh key per tap.",
    errors: {
      FORBIDDEN_DEVICE: "Not a door of the resident's sites (or no such device).",
      CONSENT_REQUIRED: "The `intercom` purpose is not granted: `consent.grant` first.",
      RATE_LIMITED: "Over the open limit (or the per-resident or per-IP one).",
    },
    example: { deviceId: "door-a1", idempotencyKey: "tap-2026-0001" },
  },
  "barrier.open": {
    summary: "Open a gate",
    description:
      `${PARTNER_CALL} As \`intercom.openDoor\`, for a gate of the barrier partner, under the ` +
      "`barrier` purpose.",
    errors: {
      FORBIDDEN_DEVICE: "Not a gate of the resident's sites (or no such device).",
      CONSENT_REQUIRED: "The `barrier` purpose is not granted.",
      RATE_LIMITED: "Over the open limit (or the per-resident or per-IP one).",
    },
    example: { deviceId: "gate-a", idempotencyKey: "tap-2026-0002" },
  },
  "consent.list": {
    summary: "The resident's consents",
    description:
      "One entry per purpose: `granted`, `revoked` or `none` (never decided), the notice " +
      "version in force and the one granted. Grant with the current version.",
  },
  "consent.grant": {
    summary: "Grant a purpose",
    description:
      "Grants the purpose on the notice version the resident was shown, which must be the " +
      "current one (`consent.list`). Granting what is granted changes nothing. Answers " +
      "`consents` as `consent.list` does and `receipt`, the signed receipt of the grant in " +
      "force (as `consent.receipts` gives it).",
    errors: { INVALID_INPUT: "Not the current notice version (or an unknown purpose)." },
    example: { purpose: "intercom", noticeVersion: 1 },
  },
  "consent.revoke": {
    summary: "Revoke a purpose",
    description:
      "From its answer on, no partner call starts for the purpose, calls in flight are " +
      "abandoned, live video sessions are ended and the partners are asked to erase what they " +
      "hold for the resident. Answers `consents` as `consent.list` does and `receipt`, the " +
      "signed receipt of the revocation (null when the purpose was never decided).",
    example: { purpose: "video" },
  },
  "consent.receipts": {
    summary: "The resident's consent receipts",
    description:
      "One receipt per grant and revoke, newest first, 50 a page (pass `nextCursor` back as " +
      "`cursor`), optionally of one `purpose`. Each is a compact JWS (EdDSA, `typ` " +
      "`consent-receipt+jws`, `kid` the audit key's id) with its payload decoded: ISO/IEC " +
      "27560 fields (receiptId, time, controller, subject, purpose, notice version and " +
      "SHA-256, method, channel, state). It verifies offline with any JOSE library against " +
      "`/.well-known/propgate-audit-keys.json`; `jws` is null where no audit signing key is " +
      "configured.",
    example: { purpose: "intercom" },
  },
  "privacy.report": {
    summary: "A signed report of everything held about the resident",
    description:
      "152-FZ art. 14: one JSON document (`document`, the exact text signed) of everything " +
      "Propgate holds about the caller — consents and their history with the notices' digests, " +
      "the partners holding a pseudonym of them with requests per month, their audit rows (the " +
      "newest 100 whole, all counted by kind and month), live video sessions, guest keys (never " +
      "a code), the journal's size, erasures and destruction records, blocks and anomalies, " +
      "units, and where each goes when. `jws` is its detached signature (RFC 7515 Appendix F, " +
      "EdDSA, `typ` `privacy-report+jws`, `kid` the audit key's id): put the base64url of " +
      "`document` between its two dots and verify against " +
      "`/.well-known/propgate-audit-keys.json`; null where no audit signing key is configured. " +
      "Each call writes a `privacy.report` audit row, whose id is the report's `reportId`.",
    errors: {
      RATE_LIMITED: "Over RATE_LIMIT_PRIVACY_REPORTS_PER_HOUR (6 by default); see `Retry-After`.",
    },
  },
  "events.list": {
    summary: "The resident's journal of events",
    description:
      "What happened at the resident's doors (rings at their unit, calls answered or missed, " +
      "entries by app, key, code, face, plate or call), newest first, a page at a time: pass " +
      "`nextCursor` back as `cursor` for the next page. Kept only while the `journal` purpose " +
      "is granted (`journal: not_granted` and an empty list otherwise) and for the retention; " +
      "revoking `journal` erases it. Opaque ids only: a ringing call names the camera to watch.",
    errors: { INVALID_INPUT: "A cursor this api did not give, or a bad `since`/`deviceId`." },
    example: { since: "2026-01-01T00:00:00Z", deviceId: "door-a1" },
  },
  "video.createSession": {
    summary: "Start watching a camera (WebRTC)",
    description:
      `${PARTNER_CALL} The app's receive-only SDP offer (DTLS-SRTP, ICE credentials, at most ` +
      "16 KiB) goes to the camera's partner; the answer SDP and ICE servers come back, and the " +
      "app connects to the partner's media server directly. Propgate keeps no SDP.",
    errors: {
      INVALID_INPUT: "The offer is not a receive-only WebRTC offer.",
      FORBIDDEN_DEVICE: "Not a camera of the resident's sites.",
      CONSENT_REQUIRED: "The `video` purpose is not granted.",
      RATE_LIMITED: "As many live sessions as a resident may hold, or a rate limit.",
    },
    example: { cameraId: "cam-a1", offerSdp: "v=0\r\n" },
  },
  "video.endSession": {
    summary: "Stop watching",
    description:
      "Ends the session at the partner. `ended: false`: the partner has not confirmed yet; " +
      "Propgate keeps trying.",
    errors: { NOT_FOUND: "No such live session of this resident." },
    example: { sessionId: "vss_00000000000000000000" },
  },
  "video.listSessions": {
    summary: "The resident's live video sessions",
    description: "Sessions not ended yet, oldest first.",
  },
  "plates.list": {
    summary: "The resident's plates at a site",
    description: `${PARTNER_CALL} The barrier partner's records, passed through (\`barrier\` purpose).`,
    example: { siteId: "site-a" },
  },
  "plates.add": {
    summary: "Let a car's plate through a site's barriers",
    description:
      `${PARTNER_CALL} The plate is normalized (Cyrillic look-alikes to Latin, no spaces); ` +
      "Propgate keeps no plate.",
    errors: { INVALID_INPUT: "Not a Russian registration plate, or `validUntil` is past." },
    example: { siteId: "site-a", plate: "А123ВС77" },
  },
  "plates.remove": {
    summary: "Remove a plate",
    description: `${PARTNER_CALL} By the id \`plates.list\` gave.`,
    errors: { PARTNER_REJECTED: "The partner holds no such plate for the resident." },
    example: { siteId: "site-a", plateId: "plate-1" },
  },
  "keys.create": {
    summary: "Issue a guest key for a visitor at chosen doors",
    description:
      `${PARTNER_CALL} Doors of one of the resident's sites (the intercom's, \`guests\` purpose), ` +
      "valid at most `GUEST_KEY_MAX_HOURS`; the answer's `code` (and `qr`) is shown once and " +
      "kept nowhere. A retry with the same `idempotencyKey` makes one key.",
    errors: {
      FORBIDDEN_DEVICE: "A door not on the resident's sites, or not a door.",
      INVALID_INPUT: "Doors of two sites, a validity too long or past, or a bad label.",
      RATE_LIMITED: "`GUEST_KEYS_MAX_ACTIVE` keys are active already.",
    },
    example: {
      deviceIds: ["door-a1", "door-a2"],
      validUntil: "2031-03-01T12:00:00Z",
      label: "Courier",
      idempotencyKey: "3f1c2b7e-key",
    },
  },
  "keys.list": {
    summary: "The resident's active guest keys (no codes)",
    description: "Keys being ended (revoked, consent withdrawn) are gone from here at once.",
  },
  "keys.revoke": {
    summary: "End a guest key",
    description:
      "Marked ending at once (gone from `keys.list`); the partner is told by a durable queue.",
    errors: { NOT_FOUND: "No such active key of the resident." },
    example: { keyId: "key_5k2m8q0vxz3t7w9y1b4d" },
  },
  "faces.list": {
    summary: "The resident's enrolled faces",
    description: `${PARTNER_CALL} The intercom partner's records (\`faces\` purpose).`,
  },
  "faces.enroll": {
    summary: "Enroll a face photo",
    description:
      `${PARTNER_CALL} A JPEG, base64, at most FACE_MAX_IMAGE_BYTES decoded (the one large ` +
      "body the api takes); it goes to the partner in memory only.",
    errors: { INVALID_INPUT: "Not a JPEG, or too large." },
    example: { image: "/9j/4AAQSkZJRgABAQ==" },
  },
  "events.onEvent": {
    summary: "The resident's events, live (Server-Sent Events)",
    description:
      "A stream of the resident's journal entries as they happen, on whichever instance they " +
      "arrive: calls at their flat (a ringing call names its `cameraId` for " +
      "`video.createSession`), and people let in or refused for them. Each SSE `message` " +
      "event's `data` is `{ id, data }`, `id` (also the SSE `id`) being the entry's `seq`. " +
      "Reconnect with `Last-Event-ID` (or `lastEventId` in the input) to receive first what " +
      "was missed while it is still in the journal, and nothing twice; without it, only new " +
      "entries. `ping` events every 20 s; the stream ends after 15 min (reconnect with a " +
      "fresh token and the last id). Errors arrive as a `serialized-error` event carrying the " +
      "error envelope's `error`, after which the stream ends.",
    errors: {
      CONSENT_REQUIRED:
        "The `journal` purpose is not granted, or was revoked while the stream was open.",
      RATE_LIMITED: "As many streams as a resident may hold open (or a rate limit).",
      UNAVAILABLE: "The instance is stopping or full: reconnect with the last id.",
    },
    example: { lastEventId: "41" },
  },
  "faces.remove": {
    summary: "Remove an enrolled face",
    description: `${PARTNER_CALL} By the id \`faces.list\` gave.`,
    errors: { PARTNER_REJECTED: "The partner holds no such face for the resident." },
    example: { faceId: "face-1" },
  },
};

/** What each cause means to a resident's app. */
const CAUSES: Record<ErrorCode, string> = {
  UNAUTHORIZED:
    "No valid bearer token (missing, expired, not for this api): get a new one and send again.",
  FORBIDDEN: "Not allowed: a site that is not in the token, or a role the resident lacks.",
  FORBIDDEN_DEVICE: "The device is not one of the resident's (or not of the procedure's kind).",
  FORBIDDEN_SITE: "The site is not one of the token's (sent as FORBIDDEN today).",
  CONSENT_REQUIRED: "The purpose's consent is not granted: ask the resident, `consent.grant`.",
  INVALID_INPUT: "The input broke the procedure's schema or rules; `data.issues` says where.",
  RATE_LIMITED: "Over a rate limit: try again after `cause.retryAfterSeconds` (`Retry-After`).",
  BLOCKED: "Blocked for a while after unusual activity; `cause.retryAfterSeconds` when it ends.",
  NOT_FOUND: "No such thing for this resident.",
  METHOD_NOT_ALLOWED:
    "The procedure exists, but not for this HTTP method: queries are `GET`, mutations `POST` (405).",
  PARTNER_UNAVAILABLE:
    "The partner did not answer in time or is down; `cause.retryAfterSeconds` when it said.",
  PARTNER_REJECTED: "The partner refused the request.",
  PARTNER_PROTOCOL_ERROR: "The partner's answer broke its contract.",
  UNAVAILABLE:
    "Propgate's database is out of reach for now: try again after `cause.retryAfterSeconds` (`Retry-After`).",
  INTERNAL: "Propgate failed; the message says no more. Quote `data.requestId`.",
};

const ErrorEnvelope = z.object({
  error: z.object({
    message: z.string(),
    code: z.number().int(),
    data: z.object({
      code: z.string(),
      httpStatus: z.number().int(),
      path: z.string().optional(),
      cause: z.object({
        code: z.enum(ERROR_CODES),
        retryAfterSeconds: z.number().int().min(0).optional(),
      }),
      requestId: z.string().nullable(),
      issues: z
        .array(z.object({ path: z.string(), message: z.string() }))
        .max(10)
        .optional(),
    }),
  }),
});

function errorEnvelopeSchema(): JsonSchema {
  const { error } = ErrorEnvelope.shape;
  const { data } = error.shape;
  const docs = describeSchemas((describe) => {
    describe(ErrorEnvelope, "Every error answer: tRPC's error envelope.");
    describe(
      error.shape.message,
      "For people; a partner's or an internal error's detail never appears here.",
    );
    describe(error.shape.code, "The JSON-RPC 2.0 code tRPC gives `data.code`.");
    describe(data.shape.code, "tRPC's name of the error (`FORBIDDEN`, `TOO_MANY_REQUESTS`, …).");
    describe(data.shape.httpStatus, "The answer's HTTP status.");
    describe(data.shape.path, "The procedure, when the request reached one.");
    describe(data.shape.cause, "The stable reason: act on `cause.code`.");
    describe(
      data.shape.cause.shape.code,
      ERROR_CODES.map((code) => `\`${code}\`: ${CAUSES[code]}`).join(" "),
    );
    describe(
      data.shape.cause.shape.retryAfterSeconds,
      "Seconds until trying again makes sense, when known.",
    );
    describe(
      data.shape.requestId,
      "The request's id: the `x-request-id` answer header and the api's log line.",
    );
    describe(data.shape.issues, "For `INVALID_INPUT`: the first problems, by field.");
  });
  return jsonSchema(ErrorEnvelope, "input", docs);
}

const REQUEST_ID = textHeader(
  "The request's id (also `error.data.requestId`); quote it to support.",
);
const RATE_LIMIT_HEADERS = rateLimitHeaders({
  limit:
    "The limits this request counted against (draft-ietf-httpapi-ratelimit-headers): " +
    '`"resident";r=119;t=60, "ip";r=599;t=42` — per policy, requests left (`r`) and seconds ' +
    "until the window resets (`t`).",
  policy: 'The policies: `"resident";q=120;w=60` — quota (`q`) per window of `w` seconds.',
});
const RETRY_AFTER = retryAfterSeconds(
  "Seconds until the refused limit's window resets (RFC 9110 §10.2.3).",
  true,
);

/** The error answers: one per HTTP status the causes travel with. */
function errorResponses(): Record<string, OpenApiResponse> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of ERROR_CODES) {
    const status = getHTTPStatusCodeFromError(new TRPCError({ code: describeCause(code).trpc }));
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<string, OpenApiResponse> = {};
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    const causes = codes.map((code) => `\`${code}\``).join(", ");
    responses[String(status)] = jsonAnswer(
      `An error; \`cause.code\` is ${causes}.`,
      "ErrorEnvelope",
      status === 429
        ? { "x-request-id": REQUEST_ID, "Retry-After": RETRY_AFTER, ...RATE_LIMIT_HEADERS }
        : { "x-request-id": REQUEST_ID },
    );
  }
  return responses;
}

function componentName(path: string, part: "Input" | "Output"): string {
  return path
    .split(".")
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join("")
    .concat(part);
}

/** The resident procedures of the router, in its order, with their parsers. */
function residentProcedures(): Array<{ path: ResidentProcedure; procedure: AnyProcedure }> {
  // Typed as the nested record; at run time tRPC keeps the procedures flat, by their paths.
  const procedures = appRouter._def.procedures as unknown as Record<string, AnyProcedure>;
  const found = Object.entries(procedures).filter(([path]) => !path.startsWith("admin."));
  const documented = new Set(Object.keys(DOCS));
  const missing = found.filter(([path]) => !documented.has(path)).map(([path]) => path);
  if (missing.length > 0) throw new Error(`no OpenAPI docs for ${missing.join(", ")}`);
  return found.map(([path, procedure]) => ({ path: path as ResidentProcedure, procedure }));
}

function operation(
  path: ResidentProcedure,
  procedure: AnyProcedure,
  schemas: Record<string, JsonSchema>,
): { method: "get" | "post"; operation: OpenApiOperation } {
  const { type, inputs, output } = procedure._def as {
    type: string;
    inputs: unknown[];
    output?: unknown;
  };
  if (type === "subscription") return subscription(path, inputs, schemas);
  if (type !== "query" && type !== "mutation") throw new Error(`${path}: a ${type}`);
  if (!output) throw new Error(`${path} has no .output(): the document needs its answer's schema`);
  const [input, ...more] = inputs;
  if (more.length > 0) throw new Error(`${path}: more than one input parser`);
  if (!(output instanceof z.ZodType) || (input !== undefined && !(input instanceof z.ZodType))) {
    throw new Error(`${path}: a parser that is not zod`);
  }
  const doc = DOCS[path];
  const outputName = componentName(path, "Output");
  schemas[outputName] = jsonSchema(output, "input");
  const inputName = componentName(path, "Input");
  if (input) schemas[inputName] = jsonSchema(input, "input");
  const media = {
    schema: schemaRef(inputName),
    ...(doc.example === undefined ? {} : { example: doc.example }),
  };
  const particular = Object.entries(doc.errors ?? {}).map(
    ([code, meaning]) => `- \`${code}\`: ${meaning}`,
  );
  const op: OpenApiOperation = {
    operationId: path,
    summary: doc.summary,
    description: [
      doc.description,
      type === "query"
        ? "A query: safe to send again."
        : "A mutation: send it again only with the same `idempotencyKey`, where it takes one.",
      ...(particular.length > 0
        ? [`Errors that mean something here:\n${particular.join("\n")}`]
        : []),
    ].join("\n\n"),
    tags: [path.split(".")[0] ?? path],
    security: [{ residentBearer: [] }],
    responses: {
      "200": jsonAnswer(
        "Done: the procedure's answer is `result.data`.",
        {
          type: "object",
          required: ["result"],
          properties: {
            result: {
              type: "object",
              required: ["data"],
              properties: { data: schemaRef(outputName) },
            },
          },
        },
        { "x-request-id": REQUEST_ID, ...RATE_LIMIT_HEADERS },
      ),
      ...errorResponses(),
    },
  };
  if (input && type === "query") {
    op.parameters = [
      {
        name: "input",
        in: "query",
        required: true,
        description: "The input as JSON, URL-encoded: `?input=%7B%22siteId%22%3A%22site-a%22%7D`.",
        content: { "application/json": media },
      },
    ];
  } else if (input) {
    op.requestBody = requiredBody("The input, as JSON.", "application/json", media);
  } else if (type === "mutation") {
    // tRPC reads a mutation's body as JSON and refuses one sent without that type (415).
    schemas[inputName] = jsonSchema(z.strictObject({}), "input");
    op.requestBody = requiredBody("No input: an empty JSON object.", "application/json", {
      schema: schemaRef(inputName),
      example: {},
    });
  }
  return { method: type === "query" ? "get" : "post", operation: op };
}

/** The event each subscription sends, by path: a subscription has no `.output()`. */
const SUBSCRIPTION_EVENTS: Partial<Record<ResidentProcedure, z.ZodType>> = {
  "events.onEvent": ResidentEvent,
};

/** A subscription: `GET` with the input in `?input=`, answered `text/event-stream`. */
function subscription(
  path: ResidentProcedure,
  inputs: unknown[],
  schemas: Record<string, JsonSchema>,
): { method: "get"; operation: OpenApiOperation } {
  const [input, ...more] = inputs;
  const event = SUBSCRIPTION_EVENTS[path];
  if (more.length > 0 || !(input instanceof z.ZodType) || !event)
    throw new Error(`${path}: a subscription needs one zod input and its event's schema`);
  const doc = DOCS[path];
  const eventName = componentName(path, "Output");
  const inputName = componentName(path, "Input");
  schemas[eventName] = jsonSchema(event, "input");
  schemas[inputName] = jsonSchema(input, "input");
  const particular = Object.entries(doc.errors ?? {}).map(
    ([code, meaning]) => `- \`${code}\`: ${meaning}`,
  );
  return {
    method: "get",
    operation: {
      operationId: path,
      summary: doc.summary,
      description: [
        doc.description,
        ...(particular.length > 0
          ? [`Errors that mean something here:\n${particular.join("\n")}`]
          : []),
      ].join("\n\n"),
      tags: [path.split(".")[0] ?? path],
      security: [{ residentBearer: [] }],
      parameters: [
        {
          name: "input",
          in: "query",
          required: false,
          description: "The input as JSON, URL-encoded.",
          content: {
            "application/json": {
              schema: schemaRef(inputName),
              ...(doc.example === undefined ? {} : { example: doc.example }),
            },
          },
        },
      ],
      responses: {
        "200": {
          description:
            "The stream. Each `message` event's `data` is JSON `{ id, data }` with `data` as below.",
          headers: { "x-request-id": REQUEST_ID },
          content: { "text/event-stream": { schema: schemaRef(eventName) } },
        },
        ...errorResponses(),
      },
    },
  };
}

const TAGS: Record<string, string> = {
  devices: "The devices of the resident's sites.",
  intercom: "Doors (the intercom partner).",
  barrier: "Gates (the barrier partner).",
  consent: "Consent per purpose (152-FZ): every partner call needs its purpose granted.",
  video: "Live video of a camera, over WebRTC straight from the partner's media server.",
  plates: "Car plates let through at a site (the barrier partner).",
  faces: "Faces recognised at doors (the intercom partner).",
  events: "What happened at the resident's doors and flat, consent-gated (`journal` purpose).",
};

let built: OpenApiDocument | null = null;

/** The OpenAPI 3.1 document of the resident api (built once). */
export function residentApiDocument(): OpenApiDocument {
  if (built) return built;
  const schemas: Record<string, JsonSchema> = {};
  const paths: OpenApiDocument["paths"] = {};
  for (const { path, procedure } of residentProcedures()) {
    const { method, operation: op } = operation(path, procedure, schemas);
    paths[`/trpc/${path}`] = { [method]: op };
  }
  schemas.ErrorEnvelope = errorEnvelopeSchema();
  const tags = [...new Set(Object.keys(DOCS).map((path) => path.split(".")[0] ?? path))];
  built = openApiDocument({
    title: "Propgate resident API",
    description: INTRO,
    servers: [
      {
        url: "{baseUrl}",
        description: "The api's base URL; the procedures are under /trpc.",
        variables: {
          baseUrl: {
            default: "http://127.0.0.1:8080",
            description: "The embedded default (`bun run start`); production's own URL otherwise.",
          },
        },
      },
    ],
    tags: Object.fromEntries(tags.map((name) => [name, TAGS[name] ?? name])),
    paths,
    schemas,
    securitySchemes: {
      residentBearer: {
        type: "http",
        scheme: "bearer",
        bearerFormat: "JWT",
        description:
          "The resident's access token from tenant-core's identity provider (`sub`, `sites`).",
      },
    },
  });
  return built;
}

const INTRO = `The resident api of Propgate, the gateway between PropDevelopment's tenant app and \
its partners (intercom, barrier), as it travels over tRPC's HTTP. Generated from the procedures' zod \
schemas (\`packages/api\`) by \`bun run openapi\`; do not edit. TypeScript apps use \
\`@propgate/client\` instead.

- **Calls.** A query is \`GET /trpc/<procedure>\`, its input (if any) as URL-encoded JSON in \
\`?input=\`; a mutation is \`POST /trpc/<procedure>\` with the JSON input as the body \
(\`Content-Type: application/json\`). Plain JSON, no batching.
- **Answers.** \`200\` with \`{ "result": { "data": … } }\`. Answers may gain fields: ignore \
those you do not know.
- **Errors.** The HTTP status and \`{ "error": { "message", "code", "data": { "code", \
"httpStatus", "path", "cause": { "code", "retryAfterSeconds" }, "requestId" } } }\`; act on \
\`error.data.cause.code\`, the stable reason.
- **Authentication.** \`Authorization: Bearer <resident JWT>\` on every call. \`UNAUTHORIZED\`: \
get a new token and send the call again (nothing was done).
- **Retries.** Queries, and opens with the same \`idempotencyKey\`, may be sent again after a \
\`429\` or \`503\`, after \`Retry-After\`. Other mutations are not safe to repeat.
- **Rate limits.** Answers carry \`RateLimit\` and \`RateLimit-Policy\` \
(draft-ietf-httpapi-ratelimit-headers); a refusal is \`429\` with \`Retry-After\`.`;
