export { committedDrift, writeDocument } from "./committed.ts";
export {
  type DocumentParts,
  type JsonSchema,
  type OpenApiDocument,
  type OpenApiHeader,
  type OpenApiMediaType,
  type OpenApiMethod,
  type OpenApiOperation,
  type OpenApiParameter,
  type OpenApiResponse,
  openApiDocument,
} from "./document.ts";
export { rateLimitHeaders, retryAfterSeconds, textHeader } from "./headers.ts";
export { committedJson, openApiJson } from "./json-text.ts";
export { jsonAnswer, requiredBody } from "./responses.ts";
export {
  type ComponentTable,
  componentSchemas,
  describeSchemas,
  jsonSchema,
  type SchemaDocs,
  schemaRef,
} from "./schemas.ts";
export { CLIENT_SECRET_BASIC, clientCredentialsScheme } from "./security.ts";
