import { createHash } from "node:crypto";

/** One peer line of `wg show <iface> dump` (tab-separated, see wg(8)). */
export interface WgPeer {
  publicKey: string;
  /** sha256 of the public key, first 16 hex chars: names the peer in rows and metric labels. */
  fingerprint: string;
  endpointIp: string | null;
  allowedIps: string[];
  /** Seconds since the epoch of the latest handshake; 0 = never. */
  latestHandshake: number;
  rxBytes: number;
  txBytes: number;
}

const KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

export function peerFingerprint(publicKey: string): string {
  return createHash("sha256").update(publicKey).digest("hex").slice(0, 16);
}

/**
 * Parses `wg show <iface> dump`: the first line is the interface (private key, public key,
 * port, fwmark) and is skipped without keeping the private key; each further line is a peer.
 * Malformed lines throw: a collector must not invent connections.
 */
export function parseWgDump(text: string): WgPeer[] {
  const lines = text.split("\n").filter((line) => line.trim() !== "");
  return lines.slice(1).map((line, index) => {
    const fields = line.split("\t");
    if (fields.length !== 8)
      throw new Error(`wg dump line ${index + 2}: expected 8 fields, got ${fields.length}`);
    const [publicKey = "", , endpoint = "", allowed = "", handshake = "", rx = "", tx = ""] =
      fields;
    if (!KEY.test(publicKey))
      throw new Error(`wg dump line ${index + 2}: not a WireGuard public key`);
    const numbers = [handshake, rx, tx].map((value) => {
      if (!/^\d{1,20}$/.test(value)) throw new Error(`wg dump line ${index + 2}: not a number`);
      return Number(value);
    });
    const endpointIp =
      endpoint === "(none)" ? null : endpoint.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
    return {
      publicKey,
      fingerprint: peerFingerprint(publicKey),
      endpointIp,
      allowedIps: allowed === "(none)" ? [] : allowed.split(","),
      latestHandshake: numbers[0] ?? 0,
      rxBytes: numbers[1] ?? 0,
      txBytes: numbers[2] ?? 0,
    };
  });
}
