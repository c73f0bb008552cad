import type { LimitDecision } from "./limits.ts";

/**
 * `RateLimit-Policy` and `RateLimit` as structured-field lists, one item per policy, per
 * draft-ietf-httpapi-ratelimit-headers-11 §3 and §4 (`"open";q=20;w=60`, `"open";r=0;t=12`),
 * plus `Retry-After` (RFC 9110 §10.2.3) on a refusal, never earlier than the window's end (§6).
 */
export function rateLimitHeaders(decisions: LimitDecision[]): Array<[string, string]> {
  if (decisions.length === 0) return [];
  const headers: Array<[string, string]> = [
    [
      "RateLimit-Policy",
      decisions.map((d) => `"${d.limit}";q=${d.quota};w=${d.windowSeconds}`).join(", "),
    ],
    [
      "RateLimit",
      decisions.map((d) => `"${d.limit}";r=${d.remaining};t=${d.resetSeconds}`).join(", "),
    ],
  ];
  const refused = decisions.filter((d) => !d.allowed);
  if (refused.length > 0)
    headers.push(["Retry-After", String(Math.max(...refused.map((d) => d.resetSeconds)))]);
  return headers;
}

/** Adds the headers of `decisions` to `target`, extending lists already there. */
export function appendRateLimitHeaders(target: Headers, decisions: LimitDecision[]): void {
  for (const [name, value] of rateLimitHeaders(decisions)) {
    if (name === "Retry-After") {
      const current = Number(target.get(name) ?? "0");
      target.set(name, String(Math.max(current, Number(value))));
    } else target.append(name, value);
  }
}
