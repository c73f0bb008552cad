import { describe, expect, test } from "bun:test";
import { generateKeyPair, type JWTVerifyGetKey, SignJWT } from "jose";
import { createResidentVerifier } from "../src/auth.ts";

const { publicKey, privateKey } = await generateKeyPair("ES256");
const ISSUER = "https://id.test";
const AUDIENCE = "propgate-test";

function token(claims: Record<string, unknown>, expSeconds: number) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "ES256" })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject("usr_cache")
    .setIssuedAt(Math.floor(expSeconds - 600))
    .setExpirationTime(expSeconds)
    .sign(privateKey);
}

/** A verifier whose key lookups (one per signature checked) are counted, on a clock we move. */
function verifier(options: { rememberMs?: number } = {}) {
  let lookups = 0;
  const clock = { now: Date.UTC(2026, 11, 1, 12, 0, 0) };
  const keys: JWTVerifyGetKey = async () => {
    lookups++;
    return publicKey;
  };
  const v = createResidentVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    keys,
    now: () => clock.now,
    ...options,
  });
  return { v, clock, lookups: () => lookups };
}

describe("resident token verification", () => {
  test("a token's signature is checked once, then it is remembered until it expires", async () => {
    const { v, clock, lookups } = verifier();
    const exp = Math.floor(clock.now / 1000) + 30;
    const jwt = await token({ sites: ["site-a"] }, exp);
    const first = await v.verify(`Bearer ${jwt}`);
    expect(first).toEqual({ userId: "usr_cache", sites: ["site-a"], adminRole: null });
    expect(await v.verify(`Bearer ${jwt}`)).toEqual(first);
    expect(lookups()).toBe(1);

    // Past `exp`: refused, not answered from memory.
    clock.now = exp * 1000 + 6_000;
    await expect(v.verify(`Bearer ${jwt}`)).rejects.toThrow("the token has expired");
  });

  test("memory lasts rememberMs at most: then the signature is checked again", async () => {
    const { v, clock, lookups } = verifier({ rememberMs: 1_000 });
    const jwt = await token({}, Math.floor(clock.now / 1000) + 3600);
    await v.verify(`Bearer ${jwt}`);
    clock.now += 1_001;
    await v.verify(`Bearer ${jwt}`);
    expect(lookups()).toBe(2);
  });

  test("a token that differs in one character is verified on its own, and refused", async () => {
    const { v, clock } = verifier();
    const jwt = await token({}, Math.floor(clock.now / 1000) + 60);
    await v.verify(`Bearer ${jwt}`);
    const last = jwt.at(-2) === "A" ? "B" : "A";
    const tampered = `${jwt.slice(0, -2)}${last}${jwt.slice(-1)}`;
    await expect(v.verify(`Bearer ${tampered}`)).rejects.toThrow("not valid");
  });

  test("the roles claim gives the admin role: viewer reads, operator (or the old admin) acts", async () => {
    const { v, clock } = verifier({ rememberMs: 0 });
    const exp = Math.floor(clock.now / 1000) + 60;
    const roleOf = async (roles: unknown) =>
      (await v.verify(`Bearer ${await token({ roles }, exp)}`)).adminRole;
    expect(await roleOf(["propgate:viewer"])).toBe("viewer");
    expect(await roleOf(["propgate:operator"])).toBe("operator");
    expect(await roleOf(["propgate:admin"])).toBe("operator");
    expect(await roleOf(["propgate:viewer", "propgate:operator"])).toBe("operator");
    expect(await roleOf(["other:operator", "propgate:Viewer"])).toBeNull();
    expect(await roleOf([])).toBeNull();
    await expect(roleOf("propgate:operator")).rejects.toThrow("not valid");
  });
});
