/**
 * The answer headers the client reads: `Retry-After` (RFC 9110 §10.2.3) and the IETF
 * `RateLimit` / `RateLimit-Policy` fields (draft-ietf-httpapi-ratelimit-headers), which the api
 * sends as structured-field lists: `"resident";r=119;t=60, "open";r=9;t=60` and
 * `"resident";q=120;w=60, "open";q=10;w=60`.
 */

/** The `headers.get` of a fetch `Response`, all the client needs of one (React Native's too). */
export interface HeaderSource {
  get(name: string): string | null;
}

/** One limit the answer reported on, by the name of its policy. */
export interface RateLimitItem {
  /** The policy's name (`resident`, `open`, `ip`, …). */
  policy: string;
  /** Requests left in the current window (`r`), when sent. */
  remaining: number | null;
  /** Seconds until the window resets (`t`), when sent. */
  resetSeconds: number | null;
  /** Requests allowed per window (`q` of `RateLimit-Policy`), when sent. */
  quota: number | null;
  /** The window's length in seconds (`w` of `RateLimit-Policy`), when sent. */
  windowSeconds: number | null;
}

/** The rate limits of the last answer the client received. */
export interface RateLimitState {
  /** The procedure whose answer carried them (`intercom.openDoor`). */
  procedure: string;
  /** The answer's HTTP status. */
  status: number;
  /** When the answer arrived (ms since the epoch). */
  receivedAt: number;
  /** Every limit the answer reported, in the order of its `RateLimit` field. */
  limits: RateLimitItem[];
}

/** Splits a structured-field list on the commas outside quoted strings. */
function listMembers(field: string): string[] {
  const members: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < field.length; i++) {
    const char = field[i];
    if (char === "\\" && quoted) {
      current += char + (field[i + 1] ?? "");
      i++;
    } else if (char === '"') {
      quoted = !quoted;
      current += char;
    } else if (char === "," && !quoted) {
      members.push(current.trim());
      current = "";
    } else {
      current += char;
    }
  }
  if (current.trim()) members.push(current.trim());
  return members;
}

/** One list member: its name (a string or a token) and its integer parameters. */
function parseMember(member: string): { name: string; params: Map<string, number> } | null {
  const match = /^(?:"((?:[^"\\]|\\.)*)"|([A-Za-z*][A-Za-z0-9_.:%*/-]*))((?:\s*;.*)?)$/.exec(
    member,
  );
  if (!match) return null;
  const name = (match[1] ?? match[2] ?? "").replace(/\\(.)/g, "$1");
  const params = new Map<string, number>();
  for (const part of (match[3] ?? "").split(";").slice(1)) {
    const [key, value] = part.split("=").map((text) => text.trim());
    if (key && value !== undefined && /^-?\d+$/.test(value)) params.set(key, Number(value));
  }
  return { name, params };
}

function parseList(field: string | null) {
  if (!field) return [];
  return listMembers(field).flatMap((member) => parseMember(member) ?? []);
}

/** The limits an answer reported, `RateLimit` merged with `RateLimit-Policy` by policy name. */
export function parseRateLimits(headers: HeaderSource): RateLimitItem[] {
  const policies = new Map(parseList(headers.get("ratelimit-policy")).map((p) => [p.name, p]));
  const items = parseList(headers.get("ratelimit")).map(({ name, params }) => {
    const policy = policies.get(name)?.params;
    policies.delete(name);
    return {
      policy: name,
      remaining: params.get("r") ?? null,
      resetSeconds: params.get("t") ?? null,
      quota: policy?.get("q") ?? null,
      windowSeconds: policy?.get("w") ?? null,
    };
  });
  // A policy announced without a current value still says what the limit is.
  for (const [name, { params }] of policies) {
    items.push({
      policy: name,
      remaining: null,
      resetSeconds: null,
      quota: params.get("q") ?? null,
      windowSeconds: params.get("w") ?? null,
    });
  }
  return items;
}

/** `Retry-After` in seconds: delay-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(headers: HeaderSource, now = Date.now()): number | null {
  const value = headers.get("retry-after")?.trim();
  if (!value) return null;
  if (/^\d+$/.test(value)) return Number(value);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return null;
  return Math.max(0, Math.ceil((date - now) / 1000));
}
