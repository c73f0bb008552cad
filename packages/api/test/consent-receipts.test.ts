import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createAuditSigner, generateAuditSigningKey } from "@propgate/consent-audit";
import { createTestDatabase, type TestDatabase } from "@propgate/consent-audit/testing";
import { compactVerify, createLocalJWKSet, decodeProtectedHeader } from "jose";
import { auditKeysJwks } from "../src/consent/audit-keys-jwks.ts";
import type { Principal, ReceiptSigner } from "../src/index.ts";
import { TEST_SETTINGS } from "./fake-services.ts";
import { databaseApp } from "./fixtures/database-app.ts";

setDefaultTimeout(60_000);

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database.close();
});

const signer = createAuditSigner(generateAuditSigningKey());
/** The published JWKS as a verifier would fetch it once and keep: JSON, no network after. */
const publishedJwks = JSON.parse(JSON.stringify(auditKeysJwks(signer.publicKey)));

function resident(name: string): Principal {
  return {
    userId: `${name}-${crypto.randomUUID()}`,
    sites: ["site-a"],
    units: [],
    adminRole: null,
  };
}

/** The real consent router on the test database, receipts signed by a generated audit key. */
function instance(
  principals: Record<string, Principal>,
  receiptSigner: ReceiptSigner | null = signer,
) {
  return databaseApp(database, principals, {
    settings: { ...TEST_SETTINGS, auditVerifyKey: signer.publicKey },
    receiptSigner,
  }).caller;
}

/** Verifies offline against the published JWKS; the decoded payload, or the error. */
async function verifyReceipt(jws: string) {
  const { payload, protectedHeader } = await compactVerify(jws, createLocalJWKSet(publishedJwks));
  return { payload: JSON.parse(new TextDecoder().decode(payload)), protectedHeader };
}

describe("consent receipts", () => {
  test("a grant's receipt verifies offline against the published key and states the grant", async () => {
    const anna = resident("anna");
    const caller = instance({ anna });
    const { consents, receipt } = await caller("anna").consent.grant({
      purpose: "intercom",
      noticeVersion: 1,
    });
    expect(consents.find((c) => c.purpose === "intercom")?.state).toBe("granted");
    if (!receipt?.jws) throw new Error("no signed receipt");
    const verified = await verifyReceipt(receipt.jws);
    expect(verified.protectedHeader).toEqual({
      alg: "EdDSA",
      kid: signer.keyId,
      typ: "consent-receipt+jws",
    });
    expect(verified.payload).toEqual(receipt.payload);
    expect(receipt.payload).toMatchObject({
      version: "propgate-consent-receipt/1",
      controller: { name: "PropDevelopment", service: "Propgate" },
      subject: anna.userId,
      purpose: "intercom",
      noticeVersion: 1,
      method: "in_app_checkbox",
      channel: "app",
      state: "granted",
    });
    expect(receipt.payload.noticeSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(receipt.payload.iat).toBe(Math.floor(Date.parse(receipt.payload.time) / 1000));
  });

  test("a changed byte fails verification, in the payload or the signature", async () => {
    const anna = resident("anna");
    const { receipt } = await instance({ anna })("anna").consent.grant({
      purpose: "barrier",
      noticeVersion: 1,
    });
    const jws = receipt?.jws ?? "";
    const [header, payload, signature] = jws.split(".") as [string, string, string];
    const forged = Buffer.from(
      JSON.stringify({ ...receipt?.payload, subject: "someone-else" }),
    ).toString("base64url");
    await expect(verifyReceipt(`${header}.${forged}.${signature}`)).rejects.toThrow();
    const flipped = `${signature.slice(0, 10)}${signature[10] === "A" ? "B" : "A"}${signature.slice(11)}`;
    await expect(verifyReceipt(`${header}.${payload}.${flipped}`)).rejects.toThrow();
    await expect(verifyReceipt(jws)).resolves.toBeDefined();
  });

  test("a revoked consent's receipt says revoked, and a key not published does not verify", async () => {
    const anna = resident("anna");
    const caller = instance({ anna })("anna");
    await caller.consent.grant({ purpose: "video", noticeVersion: 1 });
    const { consents, receipt } = await caller.consent.revoke({ purpose: "video" });
    expect(consents.find((c) => c.purpose === "video")?.state).toBe("revoked");
    const verified = await verifyReceipt(receipt?.jws ?? "");
    expect(verified.payload).toMatchObject({
      subject: anna.userId,
      purpose: "video",
      state: "revoked",
      noticeVersion: null,
      method: "in_app_toggle",
    });

    const other = createAuditSigner(generateAuditSigningKey());
    const { receipts } = await instance({ anna }, other)("anna").consent.receipts({});
    const foreign = receipts[0]?.jws ?? "";
    expect(decodeProtectedHeader(foreign).kid).toBe(other.keyId);
    await expect(verifyReceipt(foreign)).rejects.toThrow();
  });

  test("receipts list the caller's own, newest first, by purpose and after a cursor", async () => {
    const anna = resident("anna");
    const boris = resident("boris");
    const caller = instance({ anna, boris });
    await caller("anna").consent.grant({ purpose: "intercom", noticeVersion: 1 });
    await caller("boris").consent.grant({ purpose: "intercom", noticeVersion: 1 });
    const journal = await caller("anna").consent.grant({ purpose: "journal", noticeVersion: 1 });
    await caller("anna").consent.revoke({ purpose: "intercom" });
    // Granting what is granted writes no event: no second receipt, the first one answered.
    const again = await caller("anna").consent.grant({ purpose: "journal", noticeVersion: 1 });
    expect(again.receipt).toEqual(journal.receipt);

    const { receipts, nextCursor } = await caller("anna").consent.receipts({});
    expect(receipts.map((r) => [r.payload.purpose, r.payload.state])).toEqual([
      ["intercom", "revoked"],
      ["journal", "granted"],
      ["intercom", "granted"],
    ]);
    expect(nextCursor).toBeNull();
    for (const receipt of receipts) {
      expect(receipt.payload.subject).toBe(anna.userId);
      expect((await verifyReceipt(receipt.jws ?? "")).payload).toEqual(receipt.payload);
    }
    const intercom = await caller("anna").consent.receipts({ purpose: "intercom" });
    expect(intercom.receipts.map((r) => r.payload.state)).toEqual(["revoked", "granted"]);
    // Stable: the same event gives the same receipt, byte for byte.
    expect(intercom.receipts[0]?.jws).toBe(receipts[0]?.jws ?? "");

    const after = await caller("anna").consent.receipts({ cursor: receipts[0]?.payload.receiptId });
    expect(after.receipts.map((r) => r.payload.receiptId)).toEqual(
      receipts.slice(1).map((r) => r.payload.receiptId),
    );

    const borisReceipts = await caller("boris").consent.receipts({});
    expect(borisReceipts.receipts.map((r) => r.payload.subject)).toEqual([boris.userId]);
    // Another resident's receipt id is no cursor into theirs.
    const peek = await caller("boris").consent.receipts({
      cursor: receipts[0]?.payload.receiptId,
    });
    expect(peek.receipts).toEqual([]);
  });

  test("without a signing key the receipt comes unsigned and nothing is published", async () => {
    const anna = resident("anna");
    const caller = instance({ anna }, null)("anna");
    const { receipt } = await caller.consent.grant({ purpose: "plates", noticeVersion: 1 });
    expect(receipt).toMatchObject({ jws: null, payload: { purpose: "plates", state: "granted" } });
    expect(auditKeysJwks(null)).toEqual({ keys: [] });
  });
});
