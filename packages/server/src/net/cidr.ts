import { BlockList, isIPv4, isIPv6 } from "node:net";

/** One network of an allow-list, e.g. `10.80.0.0/24` or `fd80::/64`. */
export interface Cidr {
  address: string;
  prefix: number;
  family: "ipv4" | "ipv6";
}

/** A CIDR that is not exactly `<network address>/<prefix>`. */
export class InvalidCidrError extends Error {
  readonly code = "INVALID_INPUT";
  constructor(message: string) {
    super(message);
    this.name = "InvalidCidrError";
  }
}

function ipv4Bytes(address: string): number[] {
  return address.split(".").map(Number);
}

/** The 16 bytes of an IPv6 address that `isIPv6` accepted (`::` and a dotted IPv4 tail allowed). */
function ipv6Bytes(address: string): number[] {
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    const [a = 0, b = 0, c = 0, d = 0] = ipv4Bytes(dotted[1]);
    text = `${text.slice(0, -dotted[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const groups = (part: string) => (part ? part.split(":") : []);
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  return all.flatMap((group) => {
    const value = Number.parseInt(group, 16);
    return [value >> 8, value & 0xff];
  });
}

function hasHostBits(bytes: number[], prefix: number): boolean {
  return bytes.some((byte, i) => {
    const networkBits = Math.min(8, Math.max(0, prefix - i * 8));
    const hostMask = 0xff >> networkBits;
    return (byte & hostMask) !== 0;
  });
}

/**
 * Parses one CIDR strictly: an IPv4 or IPv6 address (no zone), `/`, a prefix within the
 * family's range, and no host bits set — `10.80.0.1/24` is refused, as it is almost always a typo.
 */
export function parseCidr(text: string): Cidr {
  const match = /^([^/\s]+)\/(0|[1-9][0-9]{0,2})$/.exec(text);
  if (!match?.[1] || match[2] === undefined) {
    throw new InvalidCidrError("must be <address>/<prefix>");
  }
  const address = match[1];
  const prefix = Number(match[2]);
  const family = isIPv4(address) ? "ipv4" : isIPv6(address) ? "ipv6" : null;
  if (!family || address.includes("%")) throw new InvalidCidrError("has no valid IP address");
  const max = family === "ipv4" ? 32 : 128;
  if (prefix > max) throw new InvalidCidrError(`has a prefix above ${max}`);
  const bytes = family === "ipv4" ? ipv4Bytes(address) : ipv6Bytes(address);
  if (hasHostBits(bytes, prefix)) {
    throw new InvalidCidrError("has host bits set (give the network address)");
  }
  return { address, prefix, family };
}

/** A comma-separated list of CIDRs; at least one, no empty entries. Errors name the entry's position. */
export function parseCidrList(text: string): Cidr[] {
  const entries = text.split(",").map((entry) => entry.trim());
  return entries.map((entry, i) => {
    if (!entry) throw new InvalidCidrError(`entry ${i + 1} is empty`);
    try {
      return parseCidr(entry);
    } catch (error) {
      if (error instanceof InvalidCidrError) {
        throw new InvalidCidrError(`entry ${i + 1} ${error.message}`);
      }
      throw error;
    }
  });
}

/**
 * A predicate "is this peer address inside one of the networks?". An IPv4 peer seen on a
 * dual-stack socket (`::ffff:10.80.0.2`) is judged as the IPv4 address it is.
 */
export function createCidrMatcher(cidrs: readonly Cidr[]): (address: string | null) => boolean {
  const list = new BlockList();
  for (const cidr of cidrs) list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  return (address) => {
    if (!address) return false;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    const peer = mapped ?? address;
    if (isIPv4(peer)) return list.check(peer, "ipv4");
    if (isIPv6(peer) && !peer.includes("%")) return list.check(peer, "ipv6");
    return false;
  };
}
