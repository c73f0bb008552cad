import type { JsonSchema, OpenApiHeader, OpenApiResponse } from "./document.ts";
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
