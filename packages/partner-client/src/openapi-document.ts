import { z } from "zod";

/**
 * The parts of an OpenAPI 3.1 document (https://spec.openapis.org/oas/v3.1.1) our generators
 * build, the zod → JSON Schema step they share, and the one way the documents are written.
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

export interface OpenApiDocument {
  openapi: "3.1.1";
  info: { title: string; version: string; description: string };
  servers: {
    url: string;
    description: string;
    variables?: Record<string, { default: string; description: string }>;
  }[];
  tags: { name: string; description: string }[];
  paths: Record<string, Partial<Record<OpenApiMethod, OpenApiOperation>>>;
  components: {
    schemas: Record<string, JsonSchema>;
    securitySchemes: Record<string, JsonSchema>;
  };
}

/** Descriptions for the schemas (and their fields) a document shows, kept out of the schemas. */
export type SchemaDocs = z.core.$ZodRegistry<{ description: string }>;

/**
 * A zod schema as a JSON Schema 2020-12 object (OpenAPI 3.1's dialect). `io: "output"` for what
 * the writer sends (a strict object forbids other fields), `"input"` for what its reader accepts
 * (a plain object allows and drops them).
 */
export function jsonSchema(
  schema: z.ZodType,
  io: "input" | "output",
  docs?: SchemaDocs,
): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, metadata: docs });
  return rest;
}

export function schemaRef(name: string): JsonSchema {
  return { $ref: `#/components/schemas/${name}` };
}

const LINE_WIDTH = 100;

/**
 * The document as committed: 2-space JSON and a final newline, laid out as biome formats JSON
 * (objects one key a line; a flat array on one line when it fits in 100 columns), so the files
 * pass `biome check` untouched. Keys keep the generator's order.
 */
export function openApiJson(document: OpenApiDocument): string {
  return `${layout(document, "", 0, 0)}\n`;
}

/**
 * Null when `committed` (the text of docs/openapi/`file`) is what `document` writes now, else
 * what differs first and how to fix it.
 */
export function documentDrift(
  file: string,
  committed: string,
  document: OpenApiDocument,
): string | null {
  const generated = openApiJson(document);
  if (committed === generated) return null;
  const [was, now] = [committed.split("\n"), generated.split("\n")];
  const line = Math.max(
    0,
    was.findIndex((text, i) => text !== now[i]),
  );
  return (
    `docs/openapi/${file} is stale from line ${line + 1} (committed ${JSON.stringify(was[line])}, ` +
    `generated ${JSON.stringify(now[line])}): run \`bun run openapi\` and commit the result`
  );
}

function layout(value: unknown, indent: string, lead: number, trail: number): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    if (value.every((item) => item === null || typeof item !== "object")) {
      const flat = `[${value.map((item) => JSON.stringify(item)).join(", ")}]`;
      if (lead + flat.length + trail <= LINE_WIDTH) return flat;
    }
    const items = value.map((item, i) => {
      const comma = i < value.length - 1 ? "," : "";
      return `${inner}${layout(item, inner, inner.length, comma.length)}${comma}`;
    });
    return `[\n${items.join("\n")}\n${indent}]`;
  }
  const entries = Object.entries(value).filter(([, item]) => item !== undefined);
  if (entries.length === 0) return "{}";
  const lines = entries.map(([key, item], i) => {
    const comma = i < entries.length - 1 ? "," : "";
    const head = `${inner}${JSON.stringify(key)}: `;
    return `${head}${layout(item, inner, head.length, comma.length)}${comma}`;
  });
  return `{\n${lines.join("\n")}\n${indent}}`;
}
