import { z } from "zod";

/**
 * What an env field's `.meta()` carries besides zod's own `description` (what the variable does):
 * the configuration reference (docs/configuration.md) is generated from it, so it sits next to
 * the field and cannot be forgotten without a test failing.
 */
declare module "zod" {
  interface GlobalMeta {
    /** What production (`PROPGATE_ENV=production`) adds: required, https only, refused inline… */
    production?: string;
    /** What applies when the variable is unset, where the schema's own default does not say it. */
    unset?: string;
  }
}

/** One row of the configuration reference. */
export interface EnvRow {
  variable: string;
  default: string;
  production: string;
  description: string;
}

/** The variables of an env schema that carry no description (`.meta({ description })`, last). */
export function undocumentedVariables(schema: z.ZodObject): string[] {
  return Object.entries(schema.shape)
    .filter(([, field]) => !z.globalRegistry.get(field as z.ZodType)?.description)
    .map(([variable]) => variable);
}

/**
 * The rows of an env schema, in its order. Every field must carry its description; a field
 * without one throws, so no variable reaches a schema without a row in the reference.
 */
export function envRows(schema: z.ZodObject): EnvRow[] {
  const missing = undocumentedVariables(schema);
  if (missing.length > 0)
    throw new Error(
      `${missing.join(", ")}: no description; end the field with .meta({ description })`,
    );
  return Object.entries(schema.shape).map(([variable, value]) => {
    const field = value as z.ZodType;
    const meta = z.globalRegistry.get(field) ?? {};
    return {
      variable,
      default: meta.unset ?? shownDefault(field),
      production: meta.production ?? "",
      description: meta.description ?? "",
    };
  });
}

function shownDefault(field: z.ZodType): string {
  if (field instanceof z.ZodDefault) {
    const value: unknown = field.def.defaultValue;
    return Array.isArray(value) && value.length === 0 ? "–" : `\`${String(value)}\``;
  }
  return field.isOptional() ? "–" : "required";
}

/** A markdown table of rows (variable, default, production rule, what it does), columns padded. */
export function envTable(rows: readonly EnvRow[]): string {
  const cell = (text: string) => (text === "" ? "–" : text.replaceAll("|", "\\|"));
  const lines = [
    ["variable", "default", "production", "what it does"],
    ...rows.map((row) => [
      `\`${row.variable}\``,
      cell(row.default),
      cell(row.production),
      cell(row.description),
    ]),
  ];
  const widths =
    lines[0]?.map((_, column) => Math.max(3, ...lines.map((line) => line[column]?.length ?? 0))) ??
    [];
  const row = (cells: string[]) =>
    `| ${cells.map((text, column) => text.padEnd(widths[column] ?? 0)).join(" | ")} |`;
  const [header = [], ...body] = lines;
  return [row(header), row(widths.map((width) => "-".repeat(width))), ...body.map(row)].join("\n");
}
