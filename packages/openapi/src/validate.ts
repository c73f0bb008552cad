import { Validator } from "@seriousme/openapi-schema-validator";
import type { OpenApiDocument } from "./document.ts";
import { openApiJson } from "./json-text.ts";

/**
 * What makes `document` no valid OpenAPI 3.1 document (the specification's own JSON Schema, via
 * @seriousme/openapi-schema-validator), plus every `$ref` naming no schema of its own; [] if none.
 * For tests: the validator is loaded only where this module is imported.
 */
export async function openApiProblems(document: OpenApiDocument): Promise<string[]> {
  const text = openApiJson(document);
  const validator = new Validator();
  const result = await validator.validate(JSON.parse(text));
  const errors = result.errors ?? [];
  const problems =
    typeof errors === "string" ? [errors] : errors.map((error) => JSON.stringify(error));
  if (result.valid !== true && problems.length === 0) problems.push("refused by the validator");
  if (validator.version !== "3.1") problems.push(`OpenAPI ${validator.version}, not 3.1`);
  for (const [, ref] of text.matchAll(/"\$ref": "([^"]+)"/g)) {
    const name = ref?.startsWith("#/components/schemas/")
      ? ref.slice("#/components/schemas/".length)
      : undefined;
    if (name === undefined || !(name in document.components.schemas)) {
      problems.push(`$ref ${ref} names no schema of the document`);
    }
  }
  return problems;
}
