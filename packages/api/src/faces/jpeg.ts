import { InvalidInputError } from "@propgate/consent-audit";

/**
 * Checks a face image before it goes to the partner: base64 of a JPEG (SOI marker FF D8 FF at the
 * start, EOI FF D9 at the end), at most `maxBytes` decoded. Returns it re-encoded canonically.
 * The image lives only in memory, for this call.
 */
export function checkedJpegBase64(base64: string, maxBytes: number): string {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64) || base64.length % 4 !== 0) {
    throw new InvalidInputError("image must be base64");
  }
  if ((base64.length / 4) * 3 > maxBytes + 2)
    throw new InvalidInputError(`image is larger than ${maxBytes} bytes`);
  const bytes = Buffer.from(base64, "base64");
  if (bytes.length > maxBytes)
    throw new InvalidInputError(`image is larger than ${maxBytes} bytes`);
  const isJpeg =
    bytes.length > 4 &&
    bytes[0] === 0xff &&
    bytes[1] === 0xd8 &&
    bytes[2] === 0xff &&
    bytes[bytes.length - 2] === 0xff &&
    bytes[bytes.length - 1] === 0xd9;
  if (!isJpeg) throw new InvalidInputError("image must be a JPEG");
  return bytes.toString("base64");
}
