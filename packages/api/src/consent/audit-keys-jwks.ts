import type { KeyObject } from "node:crypto";
import { auditKeyId } from "@propgate/consent-audit";

/** Where the public audit key is published, for verifying receipts offline. */
export const AUDIT_KEYS_PATH = "/.well-known/propgate-audit-keys.json";

/** The audit key as a JWKS (public part only); no keys without a signing key. */
export function auditKeysJwks(publicKey: KeyObject | null): { keys: Record<string, string>[] } {
  if (!publicKey) return { keys: [] };
  const jwk = publicKey.export({ format: "jwk" }) as Record<string, string>;
  return {
    keys: [
      {
        kty: jwk.kty as string,
        crv: jwk.crv as string,
        x: jwk.x as string,
        kid: auditKeyId(publicKey),
        alg: "EdDSA",
        use: "sig",
      },
    ],
  };
}
