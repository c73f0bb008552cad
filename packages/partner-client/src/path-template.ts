/**
 * Path templates as OpenAPI writes them (`/v1/sites/{siteId}/plates/{plateId}`): one template per
 * operation in `OPERATIONS`, expanded into request URLs, matched by the partner simulator and
 * published as the OpenAPI document's paths. Each `{name}` is one whole path segment.
 */

/** The names of a template's parameters, as a union type. */
export type PathParamName<T extends string> = T extends `${string}{${infer Name}}${infer Rest}`
  ? Name | PathParamName<Rest>
  : never;

/** One string per parameter of a template, in its order. */
export type PathIds<T extends string> = T extends `${string}{${string}}${infer Rest}`
  ? [string, ...PathIds<Rest>]
  : [];

const PARAMETER = /\{([A-Za-z]+)\}/g;

/** The names of a template's parameters, in order. */
export function pathParamNames(template: string): string[] {
  return [...template.matchAll(PARAMETER)].map((match) => match[1] ?? "");
}

/**
 * The template with its parameters replaced by `ids`, in order, each percent-encoded so it stays
 * one segment. Ids beyond the template's are ignored (callers pass `""` for a path without any).
 */
export function expandPath(template: string, ids: readonly string[]): string {
  let next = 0;
  return template.replace(PARAMETER, (_whole, name: string) => {
    const id = ids[next++];
    if (id === undefined) throw new Error(`the path ${template} needs a value for {${name}}`);
    return encodeURIComponent(id);
  });
}

/** Each template's matcher, built once: the simulator matches every request it receives. */
const matchers = new Map<string, { pattern: RegExp; names: string[] }>();

function matcherOf(template: string) {
  let matcher = matchers.get(template);
  if (!matcher) {
    // Split on the parameters: even parts are literal text, odd parts parameter names.
    const parts = template
      .split(PARAMETER)
      .map((part, i) => (i % 2 === 0 ? part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") : "([^/]+)"));
    matcher = { pattern: new RegExp(`^${parts.join("")}$`), names: pathParamNames(template) };
    matchers.set(template, matcher);
  }
  return matcher;
}

/** The parameters of `path` by name if it fits the template (raw, not decoded), else null. */
export function matchPath(template: string, path: string): Record<string, string> | null {
  const { pattern, names } = matcherOf(template);
  const match = pattern.exec(path);
  if (!match) return null;
  return Object.fromEntries(names.map((name, i) => [name, match[i + 1] ?? ""]));
}
