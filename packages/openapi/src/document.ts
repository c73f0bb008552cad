/**
 * The parts of an OpenAPI 3.1 document (https://spec.openapis.org/oas/v3.1.1) Propgate's
 * generators build, and the one skeleton every document shares.
 */

export type JsonSchema = { [keyword: string]: unknown };

export interface OpenApiHeader {
  description: string;
  required?: boolean;
  schema: JsonSchema;
}

export interface OpenApiMediaType {
  schema: JsonSchema;
  example?: unknown;
  /** Named examples (OpenAPI 3.1 §4.8.14), e.g. one per shape a union takes. */
  examples?: Record<string, { summary: string; value: unknown }>;
}

export interface OpenApiResponse {
  description: string;
  headers?: Record<string, OpenApiHeader>;
  content?: Record<string, OpenApiMediaType>;
}

export interface OpenApiParameter {
  name: string;
  in: "path" | "query" | "header";
  required: boolean;
  description: string;
  /** The value's schema; a value sent serialized as a media type (JSON in a query) has `content`. */
  schema?: JsonSchema;
  content?: Record<string, OpenApiMediaType>;
  style?: "form" | "simple";
  explode?: boolean;
}

export interface OpenApiOperation {
  operationId: string;
  summary: string;
  description: string;
  tags: string[];
  security: Record<string, string[]>[];
  parameters?: OpenApiParameter[];
  requestBody?: { required: true; description: string; content: Record<string, OpenApiMediaType> };
  responses: Record<string, OpenApiResponse>;
}

export type OpenApiMethod = "get" | "post" | "delete";

export interface OpenApiServer {
  url: string;
  description: string;
  variables?: Record<string, { default: string; description: string }>;
}

export interface OpenApiDocument {
  openapi: "3.1.1";
  info: { title: string; version: string; description: string };
  servers: OpenApiServer[];
  tags: { name: string; description: string }[];
  paths: Record<string, Partial<Record<OpenApiMethod, OpenApiOperation>>>;
  components: {
    schemas: Record<string, JsonSchema>;
    securitySchemes: Record<string, JsonSchema>;
  };
}

export interface DocumentParts {
  title: string;
  /** The introduction, Markdown. */
  description: string;
  servers: OpenApiServer[];
  /** Tag names and what each groups, in the order a reader meets them. */
  tags: Record<string, string>;
  paths: OpenApiDocument["paths"];
  schemas: Record<string, JsonSchema>;
  securitySchemes: Record<string, JsonSchema>;
}

/** A version-1 OpenAPI 3.1.1 document of `parts`, its keys in the order the files keep. */
export function openApiDocument(parts: DocumentParts): OpenApiDocument {
  return {
    openapi: "3.1.1",
    info: { title: parts.title, version: "v1", description: parts.description },
    servers: parts.servers,
    tags: Object.entries(parts.tags).map(([name, description]) => ({ name, description })),
    paths: parts.paths,
    components: { schemas: parts.schemas, securitySchemes: parts.securitySchemes },
  };
}
