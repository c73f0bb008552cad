import type {
  JsonSchema,
  OpenApiHeader,
  OpenApiMediaType,
  OpenApiOperation,
  OpenApiResponse,
} from "./document.ts";
import { schemaRef } from "./schemas.ts";

/**
 * A JSON answer: its body the component named `schema` (or the schema itself), with `headers`
 * when it has some. Every success and error envelope of the three documents is one of these.
 */
export function jsonAnswer(
  description: string,
  schema: string | JsonSchema,
  headers?: Record<string, OpenApiHeader>,
): OpenApiResponse {
  const content = {
    "application/json": { schema: typeof schema === "string" ? schemaRef(schema) : schema },
  };
  return headers === undefined ? { description, content } : { description, headers, content };
}

/**
 * A request body every call carries, of one media type: the component named `schema`, or the
 * media type's own schema (and example).
 */
export function requiredBody(
  description: string,
  mediaType: string,
  schema: string | OpenApiMediaType,
): NonNullable<OpenApiOperation["requestBody"]> {
  const media = typeof schema === "string" ? { schema: schemaRef(schema) } : schema;
  return { required: true, description, content: { [mediaType]: media } };
}
