/**
 * Third layer of log hygiene: free text is scrubbed of anything shaped like a JWT, a bearer
 * credential or a Russian car plate (Latin or Cyrillic letters, with or without spaces).
 */
const JWT = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi;
const L = "[ABEKMHOPCTYXАВЕКМНОРСТУХ]";
const PLATE = new RegExp(
  `(?<![A-Za-zА-Яа-я0-9])(?:${L}[\\s-]?\\d{3}[\\s-]?${L}{2}|${L}{2}[\\s-]?\\d{3})[\\s-]?\\d{2,3}(?![A-Za-zА-Яа-я0-9])`,
  "giu",
);

/** Nothing shaped like a JWT, a credential or a plate can be in a text without these. */
const MAYBE_SENSITIVE = /[\d\s]|eyJ/;

/**
 * Second layer of log hygiene (the first is that callers log only allow-listed fields): the
 * value under any of these keys, at any depth, is replaced before the line is written.
 */
export const REDACTED_KEYS: ReadonlySet<string> = new Set([
  "authorization",
  "cookie",
  "password",
  "secret",
  "clientSecret",
  "client_secret",
  "token",
  "accessToken",
  "access_token",
  "subjectKey",
]);

export function scrubText(text: string): string {
  if (!MAYBE_SENSITIVE.test(text)) return text;
  return text.replace(JWT, "[jwt]").replace(BEARER, "$1 [redacted]").replace(PLATE, "[plate]");
}

/** Scrubs every string in a log record (objects and arrays, a few levels deep). */
export function scrubValue(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return scrubText(value);
  if (depth > 6 || value === null || typeof value !== "object") return value;
  if (value instanceof Error) return value; // the error serializer scrubs what it keeps
  if (Array.isArray(value)) return value.map((item) => scrubValue(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = REDACTED_KEYS.has(key) ? "[redacted]" : scrubValue(item, depth + 1);
  }
  return out;
}
