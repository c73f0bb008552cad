// Crockford base32, lowercase: 32 symbols, so `byte & 31` is unbiased.
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

/** `prefix_` + 20 random base32 chars (100 bits), e.g. `evt_5k2m…`. */
export function newId(prefix: "evt" | "cns" | "vss" | "ers"): string {
  const bytes = crypto.getRandomValues(new Uint8Array(20));
  let out = `${prefix}_`;
  for (const byte of bytes) out += ALPHABET[byte & 31];
  return out;
}
