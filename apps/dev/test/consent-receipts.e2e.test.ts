import { afterAll, describe, expect, test } from "bun:test";
import { compactVerify, createLocalJWKSet, type JSONWebKeySet } from "jose";
import { startTestStack } from "../src/testing/harness.ts";

/** A receipt from the running stack, verified as a resident's own tool would: offline. */
const stack = await startTestStack();
afterAll(() => stack.close());

describe("consent receipts over HTTP", () => {
  test("the published JWKS verifies a grant's and a revoke's receipt; a changed byte fails", async () => {
    const published = await fetch(`${stack.api.url}/.well-known/propgate-audit-keys.json`);
    expect(published.status).toBe(200);
    const jwks = (await published.json()) as JSONWebKeySet;
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).not.toHaveProperty("d"); // the public key only
    // From here on no network: the key set is the JSON fetched once.
    const keys = createLocalJWKSet(jwks);

    const resident = await stack.resident("user-receipts");
    const granted = await resident.trpc.consent.grant.mutate({
      purpose: "intercom",
      noticeVersion: 1,
    });
    const revoked = await resident.trpc.consent.revoke.mutate({ purpose: "intercom" });
    const states = [];
    for (const receipt of [granted.receipt, revoked.receipt]) {
      const verified = await compactVerify(receipt?.jws ?? "", keys);
      expect(verified.protectedHeader.kid).toBe(jwks.keys[0]?.kid);
      const payload = JSON.parse(new TextDecoder().decode(verified.payload));
      expect(payload).toEqual(receipt?.payload);
      expect(payload.subject).toBe(resident.userId);
      states.push(payload.state);
    }
    expect(states).toEqual(["granted", "revoked"]);

    const [header, payload, signature] = (revoked.receipt?.jws ?? "").split(".");
    const edited = Buffer.from(
      JSON.stringify({ ...revoked.receipt?.payload, state: "granted" }),
    ).toString("base64url");
    expect(payload).not.toBe(edited);
    await expect(compactVerify(`${header}.${edited}.${signature}`, keys)).rejects.toThrow();
  });
});
