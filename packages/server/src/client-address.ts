import { isIP } from "node:net";
import { z } from "zod";
import { type Cidr, createCidrMatcher } from "./net/cidr.ts";

/**
 * A comma-separated list of CIDRs (`10.0.0.0/8, fd00::/8`); a bare address is a /32 or /128.
 * Lenient where the partner surface's `parseCidrList` is strict: proxies are often given as hosts.
 */
export const cidrList = z.string().transform((value, ctx): Cidr[] => {
  const cidrs: Cidr[] = [];
  for (const part of value.split(",")) {
    const item = part.trim();
    if (!item) continue;
    const [address = "", prefixText] = item.split("/");
    const version = isIP(address);
    const max = version === 4 ? 32 : 128;
    const prefix = prefixText === undefined ? max : Number(prefixText);
    if (version === 0 || !/^\d{1,3}$/.test(prefixText ?? String(max)) || prefix > max) {
      ctx.addIssue({ code: "custom", message: "must be a comma-separated list of CIDRs" });
      return z.NEVER;
    }
    cidrs.push({ address, prefix, family: version === 4 ? "ipv4" : "ipv6" });
  }
  return cidrs;
});

/**
 * The address a per-IP limit counts: the socket's peer, unless that peer is a trusted proxy —
 * then the right-most `X-Forwarded-For` entry that is not itself a trusted proxy (entries left
 * of it are the client's to forge).
 */
export function createClientAddressResolver(trusted: Cidr[]): ClientAddressResolver {
  if (trusted.length === 0) return (peer) => peer;
  const isTrusted = createCidrMatcher(trusted);
  return (peer, forwardedFor) => {
    if (!peer || !isTrusted(peer) || !forwardedFor) return peer;
    let client = peer;
    for (const hop of forwardedFor.split(",").reverse()) {
      const address = hop.trim();
      if (isIP(address) === 0) return client; // a malformed entry: stop at the last good hop
      client = address;
      if (!isTrusted(address)) return address;
    }
    return client;
  };
}

export type ClientAddressResolver = (
  peer: string | null,
  forwardedFor?: string | null,
) => string | null;
