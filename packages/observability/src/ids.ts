import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

/** A random id with a type prefix, e.g. `newId("req")` → `req_k3…` (20 base36 chars, ~103 bits). */
export function newId(prefix: string): string {
  const bytes = randomBytes(20);
  let out = "";
  for (const byte of bytes) out += ALPHABET[byte % 36];
  return `${prefix}_${out}`;
}

const INCOMING_REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

/** Keeps a caller's `X-Request-Id` when it is sane, otherwise makes a new one. */
export function acceptOrCreateRequestId(incoming: string | null | undefined): string {
  return incoming && INCOMING_REQUEST_ID.test(incoming) ? incoming : newId("req");
}
