import {
  CLIENT_SECRET_BASIC,
  clientCredentialsScheme,
  componentSchemas,
  type OpenApiDocument,
  type OpenApiMethod,
  openApiDocument,
} from "@propgate/openapi";
import {
  OPERATIONS,
  type OperationName,
  PARTNER_OPERATIONS,
  PARTNER_SCOPES,
  type PartnerScope,
} from "../contract.ts";
import { oauthPaths } from "./oauth.ts";
import { partnerOperation } from "./operations.ts";
import { SCHEMAS, schemaDocs } from "./schemas.ts";

/**
 * The partner API as an OpenAPI 3.1 document: what a partner must serve for Propgate, generated
 * from the contract's zod schemas and its `OPERATIONS` table (committed as
 * docs/openapi/partner-api.json by `bun run openapi`; the partner simulator serves it).
 */

const SCOPE_PURPOSE: Record<PartnerScope, string> = {
  "intercom.open": "Open an intercom's door.",
  "barrier.open": "Open a barrier's gate.",
  "plates.manage": "List, add and remove the plates of a subject at a site.",
  "faces.manage": "List, enroll and remove the faces of a subject.",
  "video.view": "Start and end a live video session of a camera.",
  "keys.manage": "Issue, list and delete a subject's guest keys at a site's doors.",
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
  keys: "Guest keys: time-boxed codes for a resident's visitor at doors (the intercom partner).",
  subjects: "Erasure of a subject's personal data (152-FZ).",
  health: "Whether your API works.",
};

/** The OpenAPI 3.1 document of what a partner must serve for Propgate. */
export function partnerApiDocument(): OpenApiDocument {
  const docs = schemaDocs();
  const paths: OpenApiDocument["paths"] = oauthPaths();
  for (const name of PARTNER_OPERATIONS) {
    const template = OPERATIONS[name].path;
    const method = OPERATIONS[name].method.toLowerCase() as OpenApiMethod;
    paths[template] = { ...paths[template], [method]: partnerOperation(name, docs) };
  }
  const operationsOf = (scope: PartnerScope) =>
    PARTNER_OPERATIONS.filter((name) => OPERATIONS[name].scope === scope).join(", ");
  return openApiDocument({
    title: "Propgate partner API",
    description: PARTNER_API_INTRO,
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
    tags: TAGS,
    paths,
    schemas: componentSchemas(SCHEMAS, docs),
    securitySchemes: {
      partnerOAuth: clientCredentialsScheme(
        "Bearer tokens from your authorization server, client-credentials grant. Each " +
          "request's token was asked for with its operation's scope only.",
        Object.fromEntries(
          PARTNER_SCOPES.map((scope) => [
            scope,
            `${SCOPE_PURPOSE[scope]} Operations: ${operationsOf(scope)}.`,
          ]),
        ),
      ),
      clientSecretBasic: CLIENT_SECRET_BASIC,
    },
  });
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
