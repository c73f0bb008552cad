import {
  type ComponentTable,
  describeSchemas,
  jsonAnswer,
  type OpenApiResponse,
  type SchemaDocs,
} from "@propgate/openapi";
import { z } from "zod";
import {
  AddPlateRequest,
  CreatedKey,
  CreateKeyRequest,
  EnrollFaceRequest,
  ErasureResponse,
  ErasureStatusResponse,
  FaceList,
  FaceRecord,
  HealthResponse,
  KeyList,
  KeyRecord,
  OAuthErrorBody,
  OpenRequest,
  OpenResponse,
  PartnerErrorBody,
  Plate,
  PlateList,
  PlateRecord,
  Subject,
} from "../contract.ts";

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
export const SCHEMAS = {
  OpenRequest: [OpenRequest, "output"],
  OpenResponse: [OpenResponse, "input"],
  AddPlateRequest: [AddPlateRequest, "output"],
  PlateRecord: [PlateRecord, "input"],
  PlateList: [PlateList, "input"],
  EnrollFaceRequest: [EnrollFaceRequest, "output"],
  FaceRecord: [FaceRecord, "input"],
  FaceList: [FaceList, "input"],
  CreateKeyRequest: [CreateKeyRequest, "output"],
  CreatedKey: [CreatedKey, "input"],
  KeyRecord: [KeyRecord, "input"],
  KeyList: [KeyList, "input"],
  ErasureResponse: [ErasureResponse, "input"],
  ErasureStatusResponse: [ErasureStatusResponse, "input"],
  HealthResponse: [HealthResponse, "input"],
  PartnerErrorBody: [PartnerErrorBody, "input"],
  TokenRequest: [TokenRequest, "output"],
  TokenResponse: [TokenResponse, "input"],
  AuthorizationServerMetadata: [AuthorizationServerMetadata, "input"],
  OAuthErrorBody: [OAuthErrorBody, "input"],
} as const satisfies ComponentTable;
export type SchemaName = keyof typeof SCHEMAS;

/** A JSON answer whose body is one of the document's schemas. */
export function json(description: string, schema: SchemaName): OpenApiResponse {
  return jsonAnswer(description, schema);
}

/** The descriptions of the schemas and of their fields. */
export function schemaDocs(): SchemaDocs {
  return describeSchemas((describe) => {
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
    describe(CreateKeyRequest, "A guest key to issue at the site, for this subject's visitor.");
    describe(
      CreateKeyRequest.shape.devices,
      "Your ids of the doors (entrance panels) the key opens, all at this site.",
    );
    describe(CreateKeyRequest.shape.validFrom, "The first moment the key opens (RFC 3339).");
    describe(CreateKeyRequest.shape.validUntil, "The last moment the key opens (RFC 3339).");
    describe(CreateKeyRequest.shape.maxUses, "How many entries it allows; absent: no count.");
    describe(CreatedKey, "The key you issued. Other fields are ignored.");
    describe(CreatedKey.shape.keyId, "Your id of the key; Propgate ends it by this id.");
    describe(
      CreatedKey.shape.code,
      "The PIN your panels accept (4-32 letters or digits). Passed to the resident once; " +
        "Propgate neither stores nor logs it.",
    );
    describe(CreatedKey.shape.qr, "Optional: a QR payload your panels accept, passed on likewise.");
    describe(KeyRecord, "A key you hold for a subject at a site, without its code.");
    describe(KeyList, "The subject's keys at the site (at most 1000).");
    describe(
      ErasureResponse,
      "What was erased. `subject`, when present, is not used; unknown fields are ignored.",
    );
    describe(
      ErasureResponse.shape.erased,
      "How many records of each category you erased (0 when you held none).",
    );
    describe(ErasureStatusResponse, "Where an erasure you accepted (202) stands.");
    describe(
      ErasureStatusResponse.shape.status,
      "`done`: erased (Propgate records the destruction); `pending`: not yet, ask again later.",
    );
    describe(
      ErasureStatusResponse.shape.completedAt,
      "When it was erased (RFC 3339, with an offset); absent: Propgate records when it heard.",
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
  });
}
