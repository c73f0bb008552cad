import type { DatabaseEnv } from "./database.ts";
import { ConfigError, readConfigFile } from "./parse.ts";

export interface CertificateFiles {
  /** PEM certificate (chain), leaf first. */
  certFile: string;
  /** PEM private key of that certificate. */
  keyFile: string;
}

const PEM_MARKERS = {
  certificate: /-----BEGIN CERTIFICATE-----/,
  key: /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
} as const;

/**
 * Checks that `path` is a readable PEM file holding a certificate or a private key, and returns
 * it. Problems name `variable`, never the file's content.
 */
export function pemFile(variable: string, path: string, holds: "certificate" | "key"): string {
  const text = readConfigFile(variable, path);
  if (!PEM_MARKERS[holds].test(text)) {
    throw new ConfigError(
      variable,
      `points at a file without a PEM ${holds === "key" ? "private key" : "certificate"}`,
    );
  }
  return path;
}

/**
 * A certificate and its key from two file variables: both or neither. When only one is set the
 * error names the one that is missing.
 */
export function certificateFiles<C extends string, K extends string>(
  env: Partial<Record<C | K, string | undefined>>,
  certVariable: C,
  keyVariable: K,
): CertificateFiles | null {
  const cert = env[certVariable] || undefined;
  const key = env[keyVariable] || undefined;
  if (cert === undefined && key === undefined) return null;
  if (cert === undefined)
    throw new ConfigError(certVariable, `is missing (${keyVariable} is set; TLS needs both)`);
  if (key === undefined)
    throw new ConfigError(keyVariable, `is missing (${certVariable} is set; TLS needs both)`);
  return {
    certFile: pemFile(certVariable, cert, "certificate"),
    keyFile: pemFile(keyVariable, key, "key"),
  };
}

/**
 * DATABASE_CA_FILE: the PEM of the CA that signed the PostgreSQL server's certificate, for
 * DATABASE_URL's `sslmode=verify-full` (or `verify-ca`). With any other sslmode it would go
 * unused while seeming to protect, so it is refused; problems name the variable, never the file.
 */
export function databaseCa(env: DatabaseEnv): string | undefined {
  const path = env.DATABASE_CA_FILE || undefined;
  if (path === undefined) return undefined;
  const sslmode = /[?&]sslmode=([^&#]*)/.exec(env.DATABASE_URL ?? "")?.[1];
  if (sslmode !== "verify-full" && sslmode !== "verify-ca") {
    throw new ConfigError(
      "DATABASE_CA_FILE",
      "is set but DATABASE_URL has no sslmode=verify-full (or verify-ca): the CA would not be used",
    );
  }
  const text = readConfigFile("DATABASE_CA_FILE", path);
  if (!PEM_MARKERS.certificate.test(text))
    throw new ConfigError("DATABASE_CA_FILE", "points at a file without a PEM certificate");
  return text;
}
