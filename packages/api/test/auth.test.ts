import { describe, expect, test } from "bun:test";
import { exportJWK, generateKeyPair, type JWTVerifyGetKey, SignJWT } from "jose";
import { createResidentVerifier } from "../src/auth.ts";
import { eventually } from "./fixtures/eventually.ts";

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
    expect(first).toEqual({ userId: "usr_cache", sites: ["site-a"], units: [], adminRole: null });
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

/** The identity provider's JWKS on a real HTTP server, whose keys the test changes; fetches counted. */
async function identityProvider() {
  const pairs = {
    a: await generateKeyPair("ES256", { extractable: true }),
    b: await generateKeyPair("ES256", { extractable: true }),
  };
  const published = new Set<keyof typeof pairs>(["a", "b"]);
  let fetches = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch() {
      fetches++;
      const keys = await Promise.all(
        [...published].map(async (kid) => ({
          ...(await exportJWK(pairs[kid].publicKey)),
          kid,
          alg: "ES256",
          use: "sig",
        })),
      );
      return Response.json({ keys });
    },
  });
  const sign = (kid: keyof typeof pairs, expSeconds: number) =>
    new SignJWT({ sites: ["site-a"] })
      .setProtectedHeader({ alg: "ES256", kid })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(`usr_${kid}`)
      .setIssuedAt()
      .setExpirationTime(expSeconds)
      .sign(pairs[kid].privateKey);
  return {
    jwksUrl: new URL(`http://127.0.0.1:${server.port}/jwks.json`),
    sign,
    remove: (kid: keyof typeof pairs) => published.delete(kid),
    fetches: () => fetches,
    stop: () => server.stop(true),
  };
}

describe("remembered tokens and the identity provider's key set", () => {
  test("a remembered token is refused once the key it was signed with leaves the JWKS", async () => {
    const idp = await identityProvider();
    try {
      const v = createResidentVerifier({
        issuer: ISSUER,
        audience: AUDIENCE,
        jwksUrl: idp.jwksUrl,
        jwksMaxAgeMs: 100,
      });
      const exp = Math.floor(Date.now() / 1000) + 3600;
      const [byA, byB] = [
        `Bearer ${await idp.sign("a", exp)}`,
        `Bearer ${await idp.sign("b", exp)}`,
      ];
      expect((await v.verify(byA)).userId).toBe("usr_a");
      expect((await v.verify(byB)).userId).toBe("usr_b");
      expect(idp.fetches()).toBe(1);

      idp.remove("a");
      // Within the set's max age the hit is answered from memory; then the set is fetched again.
      await eventually("the token signed by the removed key is refused", () =>
        v.verify(byA).then(
          () => false,
          (error) => /not valid/.test(String(error)),
        ),
      );
      expect(idp.fetches()).toBeGreaterThan(1);
      // The other key is still published: its token stands.
      expect((await v.verify(byB)).userId).toBe("usr_b");
      await expect(v.verify(byA)).rejects.toThrow("the token is not valid for this service");
    } finally {
      await idp.stop();
    }
  });

  test("a remembered token is refused once it expires, the key set unchanged", async () => {
    const idp = await identityProvider();
    try {
      const clock = { now: Date.now() };
      const v = createResidentVerifier({
        issuer: ISSUER,
        audience: AUDIENCE,
        jwksUrl: idp.jwksUrl,
        now: () => clock.now,
      });
      const exp = Math.floor(clock.now / 1000) + 30;
      const jwt = `Bearer ${await idp.sign("a", exp)}`;
      expect((await v.verify(jwt)).userId).toBe("usr_a");
      clock.now = exp * 1000 - 1;
      expect((await v.verify(jwt)).userId).toBe("usr_a");
      clock.now = exp * 1000 + 6_000;
      await expect(v.verify(jwt)).rejects.toThrow("the token has expired");
      expect(idp.fetches()).toBe(1);
    } finally {
      await idp.stop();
    }
  });
});
