import { readFileSync } from "node:fs";
import type { TLSOptions } from "bun";

/** HTTPS for the sim's listeners, optionally with client certificates (mTLS) on the API. */
export interface SimTlsOptions {
  /** PEM server certificate (chain), as text or as a file. */
  cert?: string;
  certFile?: string;
  /** PEM private key of that certificate, as text or as a file. */
  key?: string;
  keyFile?: string;
  /** PEM CA(s) that client certificates must chain to, as text or as a file. */
  ca?: string;
  caFile?: string;
  /**
   * Refuse API connections without a client certificate signed by `ca`. Default: true when a CA
   * is given. The admin listener never asks for one.
   */
  requireClientCert?: boolean;
}

/** How a request reached the sim: `server` is plain HTTPS, `mutual` carried a verified client certificate. */
export type SimTlsMode = "server" | "mutual";

export interface ResolvedSimTls {
  mode: SimTlsMode;
  /** Bun.serve `tls` of the partner API + OAuth listener. */
  api: TLSOptions;
  /** Bun.serve `tls` of the admin listener: the same certificate, no client certificates. */
  admin: TLSOptions;
}

function pem(label: string, text: string | undefined, file: string | undefined): string | null {
  if (text !== undefined && file !== undefined) {
    throw new Error(`partner-sim tls: give ${label} or ${label}File, not both`);
  }
  if (file !== undefined) return readFileSync(file, "utf8");
  return text ?? null;
}

/** Whether the API listener demands client certificates under these options. */
export function clientCertRequired(tls: SimTlsOptions): boolean {
  return tls.requireClientCert ?? (tls.ca !== undefined || tls.caFile !== undefined);
}

/** Reads the certificate files once and builds the listeners' TLS settings. */
export function resolveSimTls(tls: SimTlsOptions): ResolvedSimTls {
  const cert = pem("cert", tls.cert, tls.certFile);
  const key = pem("key", tls.key, tls.keyFile);
  const ca = pem("ca", tls.ca, tls.caFile);
  if (cert === null) throw new Error("partner-sim tls: cert or certFile is required");
  if (key === null) throw new Error("partner-sim tls: key or keyFile is required");
  const mutual = clientCertRequired(tls);
  if (mutual && ca === null) {
    throw new Error("partner-sim tls: requireClientCert needs ca or caFile to verify them");
  }
  const server: TLSOptions = { cert, key };
  return {
    mode: mutual ? "mutual" : "server",
    api:
      mutual && ca !== null
        ? { ...server, ca, requestCert: true, rejectUnauthorized: true }
        : server,
    admin: server,
  };
}
