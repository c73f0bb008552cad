import type { OpenApiDocument } from "./document.ts";

const LINE_WIDTH = 100;

/**
 * The document as committed: 2-space JSON and a final newline, laid out as biome formats JSON
 * (objects one key a line; a flat array on one line when it fits in 100 columns), so the files
 * pass `biome check` untouched. Keys keep the generator's order.
 */
export function openApiJson(document: OpenApiDocument): string {
  return committedJson(document);
}

/** Any generated JSON file in that layout (the Grafana dashboard of infra/grafana too). */
export function committedJson(value: unknown): string {
  return `${layout(value, "", 0, 0)}\n`;
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
