import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "./app-router.ts";

/** `privacy.report`'s answer: the document's exact text and its detached JWS (null unsigned). */
type SignedPrivacyReport = inferRouterOutputs<AppRouter>["privacy"]["report"];

/**
 * A verified report's top level. `version` names the document's format
 * (`propgate-privacy-report/1`); docs/api.md ("Consent and personal data (152-FZ)") describes each part, which
 * arrive as JSON (times as ISO-8601 text).
 */
export interface PrivacyReportDocument {
  version: string;
  reportId: string;
  generatedAt: string;
  subject: string;
  requestedThrough: "resident" | "operator";
  [part: string]: unknown;
}

/**
 * Checks a privacy report (`privacy.report`, `admin.privacy.report`) against the published audit
 * keys (`/.well-known/propgate-audit-keys.json`) with the platform's WebCrypto Ed25519, so the
 * client stays free of a JOSE library; with `jose`, `flattenedVerify` over the same parts does it.
 */

/** A JWKS as the api publishes it: Ed25519 public keys (`OKP`) with their `kid`. */
export interface AuditKeySet {
  keys: ReadonlyArray<{ kty?: string; crv?: string; x?: string; kid?: string }>;
}

/** The report is unsigned, malformed, signed by a key not in the set, or not what was signed. */
export class PrivacyReportSignatureError extends Error {
  override readonly name = "PrivacyReportSignatureError";
}

const REPORT_TYPE = "privacy-report+jws";

function base64urlEncode(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function base64urlDecode(text: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new PrivacyReportSignatureError("not base64url");
  const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

function protectedHeader(part: string): { alg?: unknown; kid?: unknown; typ?: unknown } {
  try {
    return JSON.parse(new TextDecoder().decode(base64urlDecode(part)));
  } catch {
    throw new PrivacyReportSignatureError("the signature's header is not base64url JSON");
  }
}

/**
 * Verifies `report.jws` — a detached JWS (RFC 7515 Appendix F: `header..signature`) over the
 * exact bytes of `report.document` — against `jwks`, and returns the document parsed. Throws
 * `PrivacyReportSignatureError` when it does not verify; a changed byte of the document fails.
 */
export async function verifyPrivacyReport(
  report: SignedPrivacyReport,
  jwks: AuditKeySet,
): Promise<PrivacyReportDocument> {
  if (report.jws === null)
    throw new PrivacyReportSignatureError(
      "the report is unsigned: no audit signing key where it was made",
    );
  const parts = report.jws.split(".");
  const [headerPart, payloadPart, signaturePart] = parts;
  if (parts.length !== 3 || !headerPart || payloadPart !== "" || !signaturePart)
    throw new PrivacyReportSignatureError("not a detached JWS (header..signature)");
  const header = protectedHeader(headerPart);
  if (header.alg !== "EdDSA" || header.typ !== REPORT_TYPE)
    throw new PrivacyReportSignatureError(`not an EdDSA ${REPORT_TYPE}`);
  const jwk = jwks.keys.find(
    (key) => key.kid === header.kid && key.kty === "OKP" && key.crv === "Ed25519" && key.x,
  );
  if (!jwk?.x)
    throw new PrivacyReportSignatureError(
      `no published key has the report's kid ${String(header.kid)}`,
    );
  const key = await crypto.subtle.importKey(
    "jwk",
    { kty: "OKP", crv: "Ed25519", x: jwk.x },
    { name: "Ed25519" },
    false,
    ["verify"],
  );
  const payload = base64urlEncode(new TextEncoder().encode(report.document));
  const signed = new TextEncoder().encode(`${headerPart}.${payload}`);
  const valid = await crypto.subtle.verify(
    { name: "Ed25519" },
    key,
    base64urlDecode(signaturePart),
    signed,
  );
  if (!valid) throw new PrivacyReportSignatureError("the signature does not match the document");
  return JSON.parse(report.document) as PrivacyReportDocument;
}
