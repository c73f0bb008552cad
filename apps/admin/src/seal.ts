import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

/**
 * AES-256-GCM seals for what the admin app hands to others to keep — the browser (sign-ins
 * under way) and the database (sessions) — so they can neither read nor change it. Each use has
 * its own key, derived from ADMIN_SESSION_SECRET_FILE by HKDF-SHA256 with the use as the `info`
 * label, and binds its seals to that use (and to a `context`, such as the row a seal belongs to):
 * a value sealed for anything else does not open.
 */
export interface Sealer {
  /** `v1.` + base64url of IV, ciphertext and tag. */
  seal(plaintext: string, context?: string): string;
  /** The plaintext, or null for anything this key did not seal for this use and context. */
  open(value: string | undefined, context?: string): string | null;
}

const VERSION = "v1";
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

/**
 * A key for `use` from the shared secret (ADMIN_SESSION_SECRET_FILE's content), or from a
 * process's random bytes when there is none. Distinct labels give independent keys.
 */
export function deriveKey(secret: string | Uint8Array, use: string): Buffer {
  return Buffer.from(hkdfSync("sha256", secret, "", use, KEY_BYTES));
}

/** A secret for one process only (development without ADMIN_SESSION_SECRET_FILE). */
export const processSecret = (): Buffer => randomBytes(KEY_BYTES);

export function createSealer(key: Buffer, use: string): Sealer {
  if (key.length !== KEY_BYTES) throw new Error("a sealing key has 32 bytes");
  // The use alone without a context: sign-in cookies sealed before contexts existed still open.
  const aad = (context: string) => Buffer.from(context ? `${use}\0${context}` : use);
  return {
    seal(plaintext, context = "") {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv("aes-256-gcm", key, iv).setAAD(aad(context));
      const sealed = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
      return `${VERSION}.${Buffer.concat([iv, sealed, cipher.getAuthTag()]).toString("base64url")}`;
    },
    open(value, context = "") {
      if (!value?.startsWith(`${VERSION}.`)) return null;
      const encoded = value.slice(VERSION.length + 1);
      const bytes = Buffer.from(encoded, "base64url");
      // Only the one spelling this code writes (the decoder would skip stray characters).
      if (bytes.length <= IV_BYTES + TAG_BYTES || bytes.toString("base64url") !== encoded)
        return null;
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(0, IV_BYTES))
          .setAAD(aad(context))
          .setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
        return Buffer.concat([
          decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)),
          decipher.final(),
        ]).toString("utf8");
      } catch {
        return null; // another key, use or context, or changed bytes
      }
    },
  };
}
