export function isLoopbackHost(hostname: string): boolean {
  const bare = hostname.replace(/^\[|\]$/g, "");
  return bare === "localhost" || bare === "::1" || /^127(\.\d{1,3}){3}$/.test(bare);
}

/**
 * Partner URLs must be https; plain http is accepted only for loopback hosts and only when
 * `allowInsecureLoopback` (dev/test). Returns the problem, or null when the URL is fine.
 */
export function checkPartnerUrl(target: URL, allowInsecureLoopback: boolean): string | null {
  if (target.username || target.password) return "must not carry credentials";
  if (target.protocol === "https:") return null;
  if (target.protocol !== "http:") return "must be an https URL";
  if (!isLoopbackHost(target.hostname)) return "must be https (plain http only for loopback)";
  if (!allowInsecureLoopback) return "must be https outside development and test";
  return null;
}
