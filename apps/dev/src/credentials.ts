import { randomBytes } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateAuditSigningKey } from "@propgate/consent-audit";
import type { JWK } from "jose";
import { z } from "zod";
import { generateIssuerKey } from "./issuer.ts";

const PartnerCredentials = z.object({
  clientId: z.string(),
  clientSecret: z.string(),
  subjectKey: z.string(),
});
const DevCredentials = z.object({
  issuerKey: z.record(z.string(), z.unknown()),
  intercom: PartnerCredentials,
  barrier: PartnerCredentials,
});
export type DevCredentials = z.infer<typeof DevCredentials> & { issuerKey: JWK };

function partnerCredentials(name: string) {
  return {
    clientId: `propgate-${name}`,
    clientSecret: randomBytes(32).toString("base64url"),
    subjectKey: randomBytes(32).toString("hex"),
  };
}

/**
 * Credentials of the embedded default, made on first start and kept in `<dataDir>/dev-credentials.json`
 * (mode 0600, under the git-ignored .data/). Without a dataDir they live in memory only.
 */
export async function loadOrCreateDevCredentials(dataDir: string | null): Promise<DevCredentials> {
  const file = dataDir ? join(dataDir, "dev-credentials.json") : null;
  if (file && existsSync(file)) {
    const parsed = DevCredentials.safeParse(JSON.parse(readFileSync(file, "utf8")));
    if (parsed.success) return parsed.data as DevCredentials;
  }
  const created: DevCredentials = {
    issuerKey: await generateIssuerKey(),
    intercom: partnerCredentials("intercom"),
    barrier: partnerCredentials("barrier"),
  };
  if (file && dataDir) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(file, JSON.stringify(created, null, 2), { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return created;
}

/**
 * The audit signing key of the embedded default (Ed25519 PEM, mode 0600): made on first start
 * under `<dataDir>/audit-signing-key.pem`; without a dataDir, in a temporary folder that
 * `cleanup` removes. A real deployment keeps this key away from the database's host.
 */
export function ensureAuditSigningKey(dataDir: string | null): { file: string; cleanup(): void } {
  const folder = dataDir ?? mkdtempSync(join(tmpdir(), "propgate-audit-key-"));
  const file = join(folder, "audit-signing-key.pem");
  if (!existsSync(file)) {
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    writeFileSync(file, generateAuditSigningKey(), { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return {
    file,
    cleanup: () => {
      if (!dataDir) rmSync(folder, { recursive: true, force: true });
    },
  };
}

/** A random secret in `<dataDir>/<name>` (mode 0600), made on first start; see the two below. */
function ensureSecretFile(
  dataDir: string | null,
  name: string,
): { file: string; secret: string; cleanup(): void } {
  const folder = dataDir ?? mkdtempSync(join(tmpdir(), "propgate-admin-secret-"));
  const file = join(folder, name);
  if (!existsSync(file)) {
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    writeFileSync(file, randomBytes(32).toString("base64url"), { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return {
    file,
    secret: readFileSync(file, "utf8").trim(),
    cleanup: () => {
      if (!dataDir) rmSync(folder, { recursive: true, force: true });
    },
  };
}

/**
 * The admin app's OpenID Connect client secret at the dev issuer (mode 0600): made on first start
 * under `<dataDir>/admin-oidc-client-secret` for ADMIN_OIDC_CLIENT_SECRET_FILE; without a dataDir,
 * in a temporary folder that `cleanup` removes.
 */
export const ensureAdminClientSecret = (dataDir: string | null) =>
  ensureSecretFile(dataDir, "admin-oidc-client-secret");

/**
 * The admin app's ADMIN_SESSION_SECRET_FILE (mode 0600), made on first start under
 * `<dataDir>/admin-session-secret`, so its sessions in PGlite open again after a restart; without
 * a dataDir, in a temporary folder that `cleanup` removes.
 */
export const ensureAdminSessionSecret = (dataDir: string | null) =>
  ensureSecretFile(dataDir, "admin-session-secret");
