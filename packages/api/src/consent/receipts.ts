import type { AuditSigner, ConsentReceiptEvent } from "@propgate/consent-audit";

/** What signs receipts: the audit signing key's id and signature (`createAuditSigner`). */
export type ReceiptSigner = Pick<AuditSigner, "keyId" | "sign">;

export const RECEIPT_VERSION = "propgate-consent-receipt/1";
export const RECEIPT_TYPE = "consent-receipt+jws";
/** The operator answerable for the data (152-FZ), as receipts and privacy reports name it. */
export const CONTROLLER = { name: "PropDevelopment", service: "Propgate" } as const;

/** The fields of ISO/IEC 27560 and the Kantara consent receipt that one grant or revoke states. */
export interface ConsentReceiptPayload {
  version: typeof RECEIPT_VERSION;
  /** The consent event's id: the same event always gives the same receipt. */
  receiptId: string;
  /** When the consent was given or withdrawn, in seconds and as ISO-8601 UTC. */
  iat: number;
  time: string;
  controller: typeof CONTROLLER;
  /** The resident's own user id: the receipt is theirs. */
  subject: string;
  purpose: ConsentReceiptEvent["purpose"];
  /** The notice a grant accepted and its text's SHA-256; null on a revoke. */
  noticeVersion: number | null;
  noticeSha256: string | null;
  method: string;
  channel: string;
  state: "granted" | "revoked";
}

export interface ConsentReceipt {
  /** Compact JWS (EdDSA, `kid` = the audit key's id); null when no signing key is configured. */
  jws: string | null;
  payload: ConsentReceiptPayload;
}

const base64url = (text: string) => Buffer.from(text, "utf8").toString("base64url");

/**
 * A compact JWS (EdDSA, `kid` the audit key's id, `typ`) over `payload`'s UTF-8: the key's
 * signature over `header.payload` as ASCII (RFC 7515, 5.1). `detached` leaves the payload out
 * (Appendix F: `header..signature`), for a verifier that holds its exact bytes already.
 */
export function signJws(
  signer: ReceiptSigner,
  typ: string,
  payload: string,
  options: { detached?: boolean } = {},
): string {
  const header = base64url(JSON.stringify({ alg: "EdDSA", kid: signer.keyId, typ }));
  const body = base64url(payload);
  const signature = signer.sign(`${header}.${body}`);
  return `${header}.${options.detached ? "" : body}.${signature}`;
}

/**
 * The receipt of one consent event. Ed25519 is deterministic and `iat` is the event's time, so
 * re-signing gives the same JWS byte for byte. Without a signer the payload comes unsigned.
 */
export function consentReceipt(
  event: ConsentReceiptEvent,
  signer: ReceiptSigner | null,
): ConsentReceipt {
  const payload: ConsentReceiptPayload = {
    version: RECEIPT_VERSION,
    receiptId: event.id,
    iat: Math.floor(event.at.getTime() / 1000),
    time: event.at.toISOString(),
    controller: CONTROLLER,
    subject: event.userId,
    purpose: event.purpose,
    noticeVersion: event.noticeVersion,
    noticeSha256: event.noticeSha256,
    method: event.method,
    channel: event.channel,
    state: event.action === "grant" ? "granted" : "revoked",
  };
  if (!signer) return { jws: null, payload };
  return { jws: signJws(signer, RECEIPT_TYPE, JSON.stringify(payload)), payload };
}
