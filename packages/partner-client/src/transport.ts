import { readFileSync } from "node:fs";

export interface TransportOptions {
  /** PEM file of the CA that signs the partner's certificate (instead of the system store). */
  caFile?: string | null;
  /** PEM client certificate and key for mTLS. */
  clientCertFile?: string | null;
  clientKeyFile?: string | null;
}

export type PartnerFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * The fetch used for everything sent to one partner (token endpoint and API alike), carrying
 * that partner's CA and client certificate. Files are read once, at startup.
 */
export function createPartnerFetch(options: TransportOptions = {}): PartnerFetch {
  const tls: { ca?: string; cert?: string; key?: string } = {};
  if (options.caFile) tls.ca = readFileSync(options.caFile, "utf8");
  if (options.clientCertFile) tls.cert = readFileSync(options.clientCertFile, "utf8");
  if (options.clientKeyFile) tls.key = readFileSync(options.clientKeyFile, "utf8");
  if (Object.keys(tls).length === 0) return (input, init) => fetch(input, init);
  return (input, init) => fetch(input, { ...init, tls });
}
