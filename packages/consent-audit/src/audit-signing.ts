import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";

/** Signs checkpoints of the audit chains with a key the database never holds. */
export interface AuditSigner {
  keyId: string;
  publicKey: KeyObject;
  sign(message: string): string;
}

export class AuditKeyError extends Error {}

function parseKey(text: string, kind: "private" | "public"): KeyObject {
  const trimmed = text.trim();
  const source = trimmed.startsWith("{")
    ? { key: JSON.parse(trimmed) as Record<string, string>, format: "jwk" as const }
    : trimmed;
  const key = kind === "private" ? createPrivateKey(source) : createPublicKey(source);
  if (key.asymmetricKeyType !== "ed25519") throw new AuditKeyError("must be an Ed25519 key");
  return key;
}

/** The id checkpoints name their key by: 16 hex of SHA-256 over the public key (SPKI DER). */
export function auditKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: "spki", format: "der" });
  return createHash("sha256").update(der).digest("hex").slice(0, 16);
}

/** A signer from an Ed25519 private key (PEM PKCS#8 or JWK). */
export function createAuditSigner(privateKeyText: string): AuditSigner {
  let privateKey: KeyObject;
  try {
    privateKey = parseKey(privateKeyText, "private");
  } catch {
    throw new AuditKeyError("must hold an Ed25519 private key (PEM or JWK)");
  }
  const publicKey = createPublicKey(privateKey);
  return {
    keyId: auditKeyId(publicKey),
    publicKey,
    sign: (message) => sign(null, Buffer.from(message, "utf8"), privateKey).toString("base64url"),
  };
}

/** The public key that verifies checkpoints, from the public or the private key's PEM or JWK. */
export function auditVerifyKey(text: string): KeyObject {
  try {
    return parseKey(text, "public");
  } catch {
    try {
      return createPublicKey(parseKey(text, "private"));
    } catch {
      throw new AuditKeyError("must hold an Ed25519 key (PEM or JWK)");
    }
  }
}

/** A new Ed25519 private key as PEM, for the embedded default and tests. */
export function generateAuditSigningKey(): string {
  return generateKeyPairSync("ed25519")
    .privateKey.export({ type: "pkcs8", format: "pem" })
    .toString();
}

/**
 * What a checkpoint's signature covers. v2 adds whether the chain closed there and the cadence
 * its writer promised (what the verifier needs to tell a live chain from one cut or crashed);
 * one with neither was signed as v1, before those existed.
 */
export function checkpointMessage(checkpoint: {
  chainId: string;
  chainSeq: number;
  headHash: string;
  at: Date;
  closing?: boolean;
  intervalMs?: number | null;
  heartbeatMs?: number | null;
}): string {
  const v1 = [
    checkpoint.chainId,
    String(checkpoint.chainSeq),
    checkpoint.headHash,
    checkpoint.at.toISOString(),
  ];
  const v2 = checkpoint.closing || checkpoint.intervalMs != null || checkpoint.heartbeatMs != null;
  if (!v2) return ["propgate-audit-checkpoint:v1", ...v1].join("\n");
  return [
    "propgate-audit-checkpoint:v2",
    ...v1,
    checkpoint.closing ? "closing" : "open",
    String(checkpoint.intervalMs),
    String(checkpoint.heartbeatMs),
  ].join("\n");
}

export function checkpointSignatureValid(
  publicKey: KeyObject,
  message: string,
  signature: string,
): boolean {
  try {
    return verify(
      null,
      Buffer.from(message, "utf8"),
      publicKey,
      Buffer.from(signature, "base64url"),
    );
  } catch {
    return false;
  }
}

/**
 * What a redaction record's signature covers: its id, chain, cut, row count, digest and time,
 * so a record cannot be moved to other rows, another chain or a later cut.
 */
export function redactionMessage(record: {
  id: string;
  chainId: string;
  before: Date;
  rows: number;
  digest: string;
  at: Date;
}): string {
  return [
    "propgate-audit-redaction:v1",
    record.id,
    record.chainId,
    record.before.toISOString(),
    String(record.rows),
    record.digest,
    record.at.toISOString(),
  ].join("\n");
}
