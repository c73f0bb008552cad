import { createHmac } from "node:crypto";

/**
 * The subject a partner knows a resident by: HMAC-SHA256(user id) under that partner's key,
 * base64url. Partners cannot link residents across partners or recover the user id.
 */
export function subjectFor(userId: string, partnerKey: Uint8Array): string {
  return createHmac("sha256", partnerKey).update(userId, "utf8").digest("base64url");
}
