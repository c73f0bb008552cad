import { describe, expect, test } from "bun:test";
import { createSigningKey, issueAccessToken, verifyAccessToken } from "../src/access-tokens.ts";

// The same key and issuer on both sides, so each check is the only thing that differs.
describe("access token verification", () => {
  test("rejects a token for another audience", async () => {
    const key = await createSigningKey();
    const issuer = { issuer: "http://127.0.0.1:1", audience: "urn:a", key };
    const { token } = await issueAccessToken(
      { ...issuer, audience: "urn:b" },
      { clientId: "c", scopes: ["health.read"], lifetimeSeconds: 60 },
    );
    const check = await verifyAccessToken(issuer, token);
    expect(check).toEqual({ ok: false, reason: expect.stringContaining("aud") });
    expect((await verifyAccessToken({ ...issuer, audience: "urn:b" }, token)).ok).toBe(true);
  });

  test("rejects a token of another issuer", async () => {
    const key = await createSigningKey();
    const issuer = { issuer: "http://127.0.0.1:1", audience: "urn:a", key };
    const { token } = await issueAccessToken(
      { ...issuer, issuer: "http://127.0.0.1:2" },
      { clientId: "c", scopes: ["health.read"], lifetimeSeconds: 60 },
    );
    const check = await verifyAccessToken(issuer, token);
    expect(check).toEqual({ ok: false, reason: expect.stringContaining("iss") });
  });
});
