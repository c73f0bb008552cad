import { describe, expect, test } from "bun:test";
import { generateKeyPairSync, sign } from "node:crypto";
import {
  type AuditKeySet,
  PrivacyReportSignatureError,
  verifyPrivacyReport,
} from "../src/index.ts";

/** An audit key as the api publishes it, and a detached JWS made as RFC 7515 Appendix F says. */
const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const jwk = publicKey.export({ format: "jwk" });
const jwks: AuditKeySet = { keys: [{ kty: "OKP", crv: "Ed25519", x: jwk.x, kid: "k1" }] };
const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64url");

function signed(
  document: string,
  header: object = { alg: "EdDSA", kid: "k1", typ: "privacy-report+jws" },
) {
  const protectedPart = b64(JSON.stringify(header));
  const signature = sign(null, Buffer.from(`${protectedPart}.${b64(document)}`), privateKey);
  return { document, jws: `${protectedPart}..${signature.toString("base64url")}` };
}

const DOCUMENT = JSON.stringify(
  { version: "propgate-privacy-report/1", subject: "anna-ä" },
  null,
  2,
);

describe("verifyPrivacyReport", () => {
  test("a report signed by a published key verifies and comes back parsed", async () => {
    const document = await verifyPrivacyReport(signed(DOCUMENT), jwks);
    expect(document).toMatchObject({ version: "propgate-privacy-report/1", subject: "anna-ä" });
  });

  test("a changed byte, another key, another type or an unsigned report fails", async () => {
    const report = signed(DOCUMENT);
    const refused = [
      { ...report, document: DOCUMENT.replace("anna", "anne") },
      { ...report, document: `${DOCUMENT}\n` },
      signed(DOCUMENT, { alg: "EdDSA", kid: "k2", typ: "privacy-report+jws" }),
      signed(DOCUMENT, { alg: "EdDSA", kid: "k1", typ: "consent-receipt+jws" }),
      { ...report, jws: report.jws.replace("..", `.${b64(DOCUMENT)}.`) },
      { ...report, jws: null },
    ];
    for (const each of refused)
      await expect(verifyPrivacyReport(each, jwks)).rejects.toBeInstanceOf(
        PrivacyReportSignatureError,
      );
  });
});
