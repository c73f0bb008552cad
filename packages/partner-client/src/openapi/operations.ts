import {
  jsonSchema,
  type OpenApiHeader,
  type OpenApiOperation,
  type OpenApiParameter,
  type OpenApiResponse,
  requiredBody,
  type SchemaDocs,
  textHeader,
} from "@propgate/openapi";
import {
  IdempotencyKey,
  MAX_SDP_BYTES,
  OPERATIONS,
  type OperationName,
  pathParamNames,
  SDP_CONTENT_TYPE,
} from "../contract.ts";
import { OPERATION_DOCS, type PathParam, SDP_BODY } from "./operation-docs.ts";
import { json } from "./schemas.ts";

/**
 * Each partner operation as the document shows it: method, path template and scope from
 * `OPERATIONS`, the rest from `OPERATION_DOCS`, and the errors every operation may answer.
 */

/** A partner's `Retry-After`: seconds or a date, unlike the whole seconds Propgate sends. */
const RETRY_AFTER = textHeader(
  "Seconds, or an HTTP date (RFC 9110 §10.2.3): when to try again. Honoured when it fits " +
    "the call's deadline; a longer wait ends the call as unavailable.",
);

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

/** What the document says of one parameter of the operation's path template. */
function pathParam(name: OperationName, param: string): PathParam {
  const documented: Partial<Record<string, PathParam>> = OPERATION_DOCS[name].path;
  const doc = documented[param];
  if (!doc) throw new Error(`${name}: no description of the path's {${param}}`);
  return doc;
}

export function partnerOperation(name: OperationName, docs: SchemaDocs): OpenApiOperation {
  const spec = OPERATIONS[name];
  const doc = OPERATION_DOCS[name];
  const retried = spec.method !== "POST" || doc.idempotencyKey === true;
  const served =
    spec.partner === null
      ? "Served by both partners, each for its own devices and data."
      : `Served by the ${spec.partner} partner.`;
  const parameters: OpenApiParameter[] = [
    ...pathParamNames(spec.path).map((param) => {
      const { description, schema } = pathParam(name, param);
      return {
        name: param,
        in: "path" as const,
        required: true,
        description,
        schema: jsonSchema(schema, "output"),
      };
    }),
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
    operation.requestBody = requiredBody(
      `The SDP offer (${SDP_CONTENT_TYPE}, at most ${MAX_SDP_BYTES} bytes).`,
      SDP_CONTENT_TYPE,
      SDP_BODY,
    );
  } else if (doc.body) {
    operation.requestBody = requiredBody(doc.body.description, "application/json", doc.body.schema);
  }
  return operation;
}
