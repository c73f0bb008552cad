import { z } from "zod";
import type { JsonSchema } from "./document.ts";

/** Descriptions for the schemas (and their fields) a document shows, kept out of the schemas. */
export type SchemaDocs = z.core.$ZodRegistry<{ description: string }>;

/** A registry filled by `fill`, which calls `describe` once per schema or field. */
export function describeSchemas(
  fill: (describe: (schema: z.ZodType, description: string) => void) => void,
): SchemaDocs {
  const docs: SchemaDocs = z.registry<{ description: string }>();
  fill((schema, description) => docs.add(schema, { description }));
  return docs;
}

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

/** A document's named schemas: each zod schema with the side (`io`) it is shown from. */
export type ComponentTable = Record<string, readonly [z.ZodType, "input" | "output"]>;

/** `components.schemas` of a table, in its order. */
export function componentSchemas(
  table: ComponentTable,
  docs: SchemaDocs,
): Record<string, JsonSchema> {
  const schemas: Record<string, JsonSchema> = {};
  for (const [name, [schema, io]] of Object.entries(table)) {
    schemas[name] = jsonSchema(schema, io, docs);
  }
  return schemas;
}
