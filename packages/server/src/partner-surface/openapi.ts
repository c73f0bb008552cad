import {
  ACCESS_METHODS,
  AccessDeniedEvent,
  AccessGrantedEvent,
  type AccessMethod,
  CALL_OUTCOMES,
  CallEndedEvent,
  CallIncomingEvent,
  type CallOutcome,
  DEVICE_EVENT_TYPES,
  DeviceEvent,
  ENTRY_METHODS,
  type EntryMethod,
  type PartnerEventType,
  SURFACE_SCOPES,
  type SurfaceScope,
} from "@propgate/domain";
import {
  CLIENT_SECRET_BASIC,
  type ComponentTable,
  clientCredentialsScheme,
  componentSchemas,
  describeSchemas,
  jsonAnswer,
  type OpenApiDocument,
  type OpenApiHeader,
  type OpenApiMediaType,
  type OpenApiOperation,
  type OpenApiResponse,
  openApiDocument,
  rateLimitHeaders,
  requiredBody,
  retryAfterSeconds,
  type SchemaDocs,
  schemaRef,
  textHeader,
} from "@propgate/openapi";
import {
  AccessCheckRequest,
  AccessCheckResponse,
  DENY_REASONS,
  type DenyReason,
} from "./access-checks.ts";
import { OAuthErrorBody, RateLimitedBody, SurfaceErrorBody } from "./errors.ts";
import { EVENT_EXAMPLES } from "./event-examples.ts";
import { EventAccepted } from "./events.ts";
import { TokenRequestForm, TokenResponse } from "./oauth-token.ts";

/**
 * The partner surface as an OpenAPI 3.1 document: what Propgate serves to partners over the VPN,
 * generated from the schemas its routes validate with and answer in (committed as
 * docs/openapi/partner-surface.json by `bun run openapi`).
 */

/** The document's schemas: requests as the surface reads them, answers as it writes them. */
const SCHEMAS = {
  TokenRequestForm: [TokenRequestForm, "input"],
  TokenResponse: [TokenResponse, "output"],
  OAuthErrorBody: [OAuthErrorBody, "output"],
  AccessCheckRequest: [AccessCheckRequest, "input"],
  AccessCheckResponse: [AccessCheckResponse, "output"],
  DeviceEvent: [DeviceEvent, "input"],
  CallIncomingEvent: [CallIncomingEvent, "input"],
  CallEndedEvent: [CallEndedEvent, "input"],
  AccessGrantedEvent: [AccessGrantedEvent, "input"],
  AccessDeniedEvent: [AccessDeniedEvent, "input"],
  EventAccepted: [EventAccepted, "output"],
  SurfaceErrorBody: [SurfaceErrorBody, "output"],
  RateLimitedBody: [RateLimitedBody, "output"],
} as const satisfies ComponentTable;
type SchemaName = keyof typeof SCHEMAS | "PartnerEventRequest";

/** The event shapes by `type`: `PartnerEventRequest` is one of them, told apart by `type`. */
const EVENT_SHAPES = {
  DeviceEvent: DEVICE_EVENT_TYPES,
  CallIncomingEvent: ["call.incoming"],
  CallEndedEvent: ["call.ended"],
  AccessGrantedEvent: ["access.granted"],
  AccessDeniedEvent: ["access.denied"],
} as const satisfies Partial<Record<keyof typeof SCHEMAS, readonly PartnerEventType[]>>;

/** `oneOf` the event shapes, with the OpenAPI discriminator mapping each `type` to its shape. */
function partnerEventRequestSchema() {
  const names = Object.keys(EVENT_SHAPES) as Array<keyof typeof EVENT_SHAPES>;
  return {
    description:
      "One event, its shape chosen by `type`. Every shape is strict: a field not shown is " +
      "refused (400) and nothing of the body is stored. Never send a plate, a face or other " +
      "image, a name or a phone number: no shape has a field for one.",
    oneOf: names.map((name) => schemaRef(name)),
    discriminator: {
      propertyName: "type",
      mapping: Object.fromEntries(
        names.flatMap((name) =>
          EVENT_SHAPES[name].map((type) => [type, `#/components/schemas/${name}`]),
        ),
      ),
    },
  };
}

const SCOPE_PURPOSE: Record<SurfaceScope, string> = {
  "access.check":
    "Ask whether a subject may pass one of your devices (POST /partner/v1/access-checks).",
  "events.write": "Report events at your devices (POST /partner/v1/events).",
};

const METHOD_MEANING: Record<AccessMethod, string> = {
  key: "a key fob or the tenant app",
  face: "a face you recognised",
  plate: "a plate you read",
};

const ENTRY_MEANING: Record<EntryMethod, string> = {
  app: "opened from the resident's app (yours or Propgate's)",
  key: "a key fob",
  code: "a door code",
  face: "a face you recognised",
  plate: "a plate you read",
  call: "opened by the resident answering a call",
};

const OUTCOME_MEANING: Record<CallOutcome, string> = {
  answered: "someone in the flat answered",
  missed: "nobody answered before the call ended",
};

const EVENT_MEANING: Record<PartnerEventType, string> = {
  "door.opened": "the door or gate opened",
  "device.offline": "the device stopped answering you",
  "device.online": "the device is back",
  "call.incoming": "someone is ringing a flat at an entrance panel",
  "call.ended": "the call ended, answered or missed",
  "access.granted": "someone was let in, by the method named",
  "access.denied": "someone was refused, by the method named",
};

const DENY_MEANING: Record<DenyReason, string> = {
  unknown_device: "Propgate knows no device of yours with this id",
  unknown_subject:
    "Propgate never sent you this subject (it knows pseudonyms only from its own calls to you)",
  stale_subject:
    "Propgate has not seen the resident for too long (by default an hour: no call of theirs has " +
    "confirmed their sites since), so it no longer vouches for where they live",
  not_a_passage: "the device is not a door or a gate",
  method_not_supported: "faces are checked at the intercom's devices only, plates at the barrier's",
  site_not_allowed:
    "the resident has no home at the device's site (as of their latest call to Propgate)",
  consent_required:
    "the resident has not granted, or has revoked, a consent this needs: the device's (intercom " +
    "or barrier) and, for `face` or `plate`, faces or plates",
};

function listed<K extends string>(meanings: Record<K, string>, order: readonly K[]): string {
  return order.map((key) => `\`${key}\`: ${meanings[key]}`).join("; ");
}

function schemaDocs(): SchemaDocs {
  return describeSchemas((describe) => {
    describe(
      TokenRequestForm,
      "RFC 6749 §4.4.2, form-encoded. Parameters not shown are ignored; none may be repeated.",
    );
    describe(
      TokenRequestForm.shape.scope,
      "Space-separated scope names; absent: every scope of the client. Asking for one the client " +
        "was not given is `invalid_scope`.",
    );
    describe(
      TokenRequestForm.shape.client_id,
      "client_secret_post; next to Basic credentials it may be repeated, and must then match.",
    );
    describe(TokenRequestForm.shape.client_secret, "client_secret_post only.");
    describe(TokenResponse, "RFC 6749 §5.1, with `Cache-Control: no-store`.");
    describe(
      TokenResponse.shape.access_token,
      "An RFC 9068 JWT; treat it as opaque and send it as `Authorization: Bearer`.",
    );
    describe(
      TokenResponse.shape.expires_in,
      "Lifetime in seconds (300 unless agreed otherwise). Reuse the token until shortly before it " +
        "expires.",
    );
    describe(TokenResponse.shape.scope, "The scopes granted, space-separated.");
    describe(OAuthErrorBody, "RFC 6749 §5.2.");
    describe(
      AccessCheckRequest,
      "Strict: a field not shown is refused (400), so is a missing one.",
    );
    describe(
      AccessCheckRequest.shape.subject,
      "The pseudonym Propgate sent you for the resident (in an open, plate or face call).",
    );
    describe(
      AccessCheckRequest.shape.deviceId,
      "Your id of the device, as registered with Propgate.",
    );
    describe(
      AccessCheckRequest.shape.method,
      `How the person presents: ${listed(METHOD_MEANING, ACCESS_METHODS)}.`,
    );
    describe(
      AccessCheckResponse.shape.decision,
      "`allow` only when everything checks out: the device is a door or gate Propgate knows, the " +
        "resident lives at its site and holds the consents it needs. Anything unknown denies.",
    );
    describe(
      AccessCheckResponse.shape.reason,
      `With \`deny\` only: ${listed(DENY_MEANING, DENY_REASONS)}.`,
    );
    const strict = "Strict: a field not shown is refused (400), so is a missing one.";
    const partnerEventId =
      "Your id of this event, 1-128 of `[A-Za-z0-9._:-]`, unique among your events. Propgate " +
      "keeps the first post of an id: a retry with the same id is answered as the first was " +
      "(202, the same `eventId`) and changes nothing.";
    const at = "When it happened at the device (RFC 3339, with an offset).";
    const deviceId = "Your id of the device, as registered with Propgate.";
    describe(DeviceEvent, `${strict} About a device itself; addressed to no resident.`);
    describe(DeviceEvent.shape.type, `${listed(EVENT_MEANING, DEVICE_EVENT_TYPES)}.`);
    describe(DeviceEvent.shape.eventId, `Optional for these types. ${partnerEventId}`);
    describe(DeviceEvent.shape.deviceId, deviceId);
    describe(DeviceEvent.shape.at, at);
    describe(
      CallIncomingEvent,
      `${strict} ${EVENT_MEANING["call.incoming"]}; the residents of the flat are told at once.`,
    );
    describe(CallIncomingEvent.shape.eventId, partnerEventId);
    describe(CallIncomingEvent.shape.deviceId, "Your id of the entrance panel that rings.");
    describe(
      CallIncomingEvent.shape.unitId,
      "Your id of the flat rung, 1-64 of `[A-Za-z0-9._-]`, as mapped with Propgate (never an " +
        "address or a name).",
    );
    describe(
      CallIncomingEvent.shape.cameraId,
      "Your id of the camera that shows the caller, when there is one: the resident's app " +
        "offers its video.",
    );
    describe(CallIncomingEvent.shape.at, at);
    describe(CallEndedEvent, `${strict} ${EVENT_MEANING["call.ended"]}.`);
    describe(CallEndedEvent.shape.eventId, partnerEventId);
    describe(CallEndedEvent.shape.deviceId, "Your id of the entrance panel.");
    describe(CallEndedEvent.shape.unitId, "Your id of the flat rung, as in `call.incoming`.");
    describe(CallEndedEvent.shape.outcome, `${listed(OUTCOME_MEANING, CALL_OUTCOMES)}.`);
    describe(CallEndedEvent.shape.durationSeconds, "Whole seconds from ring to end, 0-86400.");
    describe(
      CallEndedEvent.shape.callEventId,
      "The `eventId` of the call's `call.incoming`, when you sent one.",
    );
    describe(CallEndedEvent.shape.at, "When the call ended (RFC 3339, with an offset).");
    for (const shape of [AccessGrantedEvent, AccessDeniedEvent]) {
      const type = shape.shape.type.value;
      describe(shape, `${strict} ${EVENT_MEANING[type]}.`);
      describe(shape.shape.eventId, partnerEventId);
      describe(shape.shape.deviceId, "Your id of the door, gate or barrier.");
      describe(shape.shape.method, `${listed(ENTRY_MEANING, ENTRY_METHODS)}.`);
      describe(
        shape.shape.subject,
        "Only when you know it: the pseudonym Propgate sent you for the resident (a face or " +
          "plate enrolled through Propgate, or an access check). Never the plate or the face.",
      );
      describe(shape.shape.at, at);
    }
    describe(EventAccepted.shape.eventId, "The event's row in Propgate's audit trail.");
    describe(
      SurfaceErrorBody,
      "Every error of the surface but the token endpoint's own (RFC 6749) errors.",
    );
    describe(
      SurfaceErrorBody.shape.error.shape.code,
      "`INVALID_INPUT` (400), `UNAUTHORIZED` (401), `INSUFFICIENT_SCOPE`, `BLOCKED` or " +
        "`FORBIDDEN` (403), `NOT_FOUND` (404), `INTERNAL` (500).",
    );
    describe(
      SurfaceErrorBody.shape.error.shape.requestId,
      "Quote it when you report a problem; also in the `X-Request-Id` header.",
    );
    describe(RateLimitedBody.shape.error.shape.retryAfterSeconds, "As `Retry-After`.");
  });
}

const REQUEST_ID = textHeader("The request's id: yours when you sent a usable one, else ours.");
const RETRY_AFTER = retryAfterSeconds("Seconds until the block or the limit is lifted.");

const RATE_LIMIT_HEADERS: Record<string, OpenApiHeader> = {
  "Retry-After": RETRY_AFTER,
  ...rateLimitHeaders({
    limit: "IETF RateLimit fields: remaining quota and seconds to its reset.",
    policy: "The quota and window of each limit the request counted against.",
  }),
};

/** Every answer of the surface carries the request's id. */
function json(
  description: string,
  schema: SchemaName,
  headers: Record<string, OpenApiHeader> = {},
): OpenApiResponse {
  return jsonAnswer(description, schema, { "X-Request-Id": REQUEST_ID, ...headers });
}

const OUTSIDE_OR_BLOCKED =
  "`FORBIDDEN`: the request came from outside the VPN network (it is also logged and " +
  "alerted on). `BLOCKED`: this client or address is blocked for a while after unusual " +
  "activity (many failed sign-ins, access checks for very many subjects); see `Retry-After`.";

/** What every route behind a bearer token may answer besides its own success. */
function bearerErrors(scope: SurfaceScope): Record<string, OpenApiResponse> {
  return {
    "400": json(
      "`INVALID_INPUT`: not `application/json`, not JSON, a field missing, unknown or invalid, " +
        "or a body over 16 KiB. The message names the field.",
      "SurfaceErrorBody",
    ),
    "401": json(
      "`UNAUTHORIZED`: no bearer token, an expired or foreign one, or a client no longer " +
        "registered. Get a new token.",
      "SurfaceErrorBody",
      { "WWW-Authenticate": textHeader('RFC 6750 §3: `Bearer realm="propgate-partner-surface"`.') },
    ),
    "403": json(
      `\`INSUFFICIENT_SCOPE\`: the token lacks \`${scope}\`, or the client is no longer given it. ${OUTSIDE_OR_BLOCKED}`,
      "SurfaceErrorBody",
      { "Retry-After": RETRY_AFTER },
    ),
    "429": json(
      "`RATE_LIMITED`: too many requests from this client.",
      "RateLimitedBody",
      RATE_LIMIT_HEADERS,
    ),
    "500": json("`INTERNAL`: our fault; quote the request id.", "SurfaceErrorBody"),
  };
}

const REQUEST_ID_PARAMETER = {
  name: "X-Request-Id",
  in: "header" as const,
  required: false,
  description:
    "Your id for the request (8-64 of `[A-Za-z0-9._-]`), kept in our log line and answer; " +
    "otherwise we make one.",
  schema: { type: "string" },
};

function bearerOperation(input: {
  operationId: string;
  summary: string;
  description: string;
  scope: SurfaceScope;
  body: SchemaName | OpenApiMediaType;
  answer: Record<string, OpenApiResponse>;
}): OpenApiOperation {
  return {
    operationId: input.operationId,
    summary: input.summary,
    description: `${input.description}\n\nScope \`${input.scope}\`.`,
    tags: ["partner"],
    security: [{ surfaceOAuth: [input.scope] }],
    parameters: [REQUEST_ID_PARAMETER],
    requestBody: requiredBody("JSON, at most 16 KiB.", "application/json", input.body),
    responses: { ...input.answer, ...bearerErrors(input.scope) },
  };
}

/** The OpenAPI 3.1 document of the partner surface Propgate serves over the VPN. */
export function partnerSurfaceDocument(): OpenApiDocument {
  const noStore = {
    "Cache-Control": textHeader("`no-store`."),
    Pragma: textHeader("`no-cache`."),
  };
  return openApiDocument({
    title: "Propgate partner surface",
    description: SURFACE_INTRO,
    servers: [
      {
        url: "http://{vpnAddress}",
        description:
          "Propgate's address on the WireGuard VPN (its PARTNER_LISTEN), plain HTTP inside the " +
          "tunnel. The only way in: a request from outside the VPN network is refused (403 " +
          "`FORBIDDEN`).",
        variables: {
          vpnAddress: {
            default: "10.80.0.1:8443",
            description: "host:port, given to you with your WireGuard configuration.",
          },
        },
      },
    ],
    tags: {
      oauth: "Tokens for the partner surface.",
      partner: "What partners ask and tell Propgate.",
    },
    paths: {
      "/oauth/token": {
        post: {
          operationId: "oauth.token",
          summary: "Client-credentials token (RFC 6749 §4.4)",
          description:
            "Authenticate with the client id and secret Propgate issued you for this " +
            "environment, as `client_secret_basic` (`Authorization: Basic`) or " +
            "`client_secret_post` (in the form), not both. Failed sign-ins are counted per client " +
            "and per address; too many block both for a while (403 `BLOCKED`).",
          tags: ["oauth"],
          security: [{ clientSecretBasic: [] }, {}],
          parameters: [REQUEST_ID_PARAMETER],
          requestBody: requiredBody(
            "`application/x-www-form-urlencoded`, at most 16 KiB.",
            "application/x-www-form-urlencoded",
            "TokenRequestForm",
          ),
          responses: {
            "200": json("A bearer token for the partner surface.", "TokenResponse", noStore),
            "400": json(
              "`invalid_request` (not form-encoded, a parameter missing or repeated, two " +
                "authentication methods), `unsupported_grant_type`, `invalid_scope`.",
              "OAuthErrorBody",
              noStore,
            ),
            "401": json("`invalid_client`: unknown client or wrong secret.", "OAuthErrorBody", {
              ...noStore,
              "WWW-Authenticate": textHeader('`Basic realm="propgate-partner"`.'),
            }),
            "403": json(OUTSIDE_OR_BLOCKED, "SurfaceErrorBody", { "Retry-After": RETRY_AFTER }),
            "429": json(
              "`slow_down`: too many token requests from this address or for this client id " +
                "(a few a minute at most: reuse a token until shortly before it expires). " +
                "Refused before the secret is checked.",
              "OAuthErrorBody",
              { ...noStore, ...RATE_LIMIT_HEADERS },
            ),
            "503": json(
              "`temporarily_unavailable`: too many sign-ins are being checked right now; try " +
                "again after `Retry-After`.",
              "OAuthErrorBody",
              { ...noStore, "Retry-After": RETRY_AFTER },
            ),
          },
        },
      },
      "/partner/v1/access-checks": {
        post: bearerOperation({
          operationId: "partner.access_check",
          summary: "May this subject pass this device?",
          description:
            "Ask before you let someone through by a key, a face or a plate. Propgate answers " +
            "from what it knows now: your device mapped to its own, the resident behind the " +
            "subject, their sites and their consents. Every check is a row in Propgate's audit " +
            "trail (never with the subject); checking very many subjects blocks the client.",
          scope: "access.check",
          body: "AccessCheckRequest",
          answer: { "200": json("The decision.", "AccessCheckResponse") },
        }),
      },
      "/partner/v1/events": {
        post: bearerOperation({
          operationId: "partner.event",
          summary: "Report an event at a device",
          description:
            "Tell Propgate what happened at one of your devices: a device event, a call to a " +
            "flat, an entry let in or refused. Each event is a row in Propgate's audit trail; " +
            "an event at a device Propgate does not know is still accepted, and recorded as " +
            "such. Retries are safe: an `eventId` already received is answered as the first " +
            "time and changes nothing.",
          scope: "events.write",
          body: { schema: schemaRef("PartnerEventRequest"), examples: EVENT_EXAMPLES },
          answer: { "202": json("Accepted and recorded.", "EventAccepted") },
        }),
      },
    },
    schemas: {
      ...componentSchemas(SCHEMAS, schemaDocs()),
      PartnerEventRequest: partnerEventRequestSchema(),
    },
    securitySchemes: {
      surfaceOAuth: clientCredentialsScheme(
        "Bearer tokens from POST /oauth/token, client-credentials grant.",
        Object.fromEntries(SURFACE_SCOPES.map((scope) => [scope, SCOPE_PURPOSE[scope]])),
      ),
      clientSecretBasic: CLIENT_SECRET_BASIC,
    },
  });
}

const SURFACE_INTRO = `What Propgate serves to partners: tokens, access checks and device events. \
Generated from the schemas the surface's routes validate with (\`packages/server/src/partner-surface/\`) \
by \`bun run openapi\`; do not edit.

- **VPN only.** The surface listens on Propgate's WireGuard address; every request is judged by \
the socket's peer address first, and one from outside the partners' VPN network is refused and \
alerted on. Forwarded headers are never read.
- **Tokens.** Get one at \`/oauth/token\` with the client id and secret Propgate issued you for \
the environment; each endpoint needs its scope, and a client holds only the scopes it was given.
- **Strict requests.** Bodies are JSON objects with exactly the fields shown: an unknown field is \
a 400 naming it.
- **Errors** have one shape, \`{"error": {"code", "message", "requestId"}}\`, except the token \
endpoint's RFC 6749 errors \`{"error", "error_description"}\`.
- **Limits.** Requests are limited per client, token requests also per address (429 with \
\`Retry-After\`); unusual activity blocks the client or address for a while (403 \`BLOCKED\`, \
\`Retry-After\`), longer each time.`;
