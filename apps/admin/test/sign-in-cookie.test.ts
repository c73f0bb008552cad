import { describe, expect, test } from "bun:test";
import type { PendingSignIn } from "../src/oidc.ts";
import { processSecret } from "../src/seal.ts";
import { createSignInCookie } from "../src/sign-in-cookie.ts";

const SECRET = "a-shared-secret-of-at-least-32-characters";
const TTL_MS = 600_000;

function signIn(n: number): PendingSignIn {
  return {
    state: `state-${n}`,
    nonce: `nonce-${n}`,
    codeVerifier: `verifier-${n}-${"v".repeat(43)}`,
  };
}

function cookie(secret: string | Uint8Array = SECRET) {
  let now = 1_000_000;
  const cookies = createSignInCookie({ secret, ttlMs: TTL_MS, now: () => now });
  return { cookies, advance: (ms: number) => (now += ms) };
}

describe("sealed sign-in cookie", () => {
  test("holds the sign-in unreadably; taken once, it is gone", () => {
    const { cookies } = cookie();
    const value = cookies.add(undefined, signIn(1));
    expect(value).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
    for (const part of Object.values(signIn(1))) expect(value).not.toContain(part);
    expect(cookies.take(value, "state-1")).toEqual({ signIn: signIn(1), rest: null });
    expect(cookies.take(value, "state-2")).toBeNull();
  });

  test("a few sign-ins of one browser at once (tabs), the newest kept", () => {
    const { cookies } = cookie();
    let value = cookies.add(undefined, signIn(1));
    value = cookies.add(value, signIn(2));
    const taken = cookies.take(value, "state-1");
    expect(taken?.signIn).toEqual(signIn(1));
    expect(cookies.take(taken?.rest ?? undefined, "state-2")?.signIn).toEqual(signIn(2));
    for (let n = 3; n <= 5; n++) value = cookies.add(value, signIn(n));
    expect(cookies.take(value, "state-5")?.signIn).toEqual(signIn(5));
    expect(cookies.take(value, "state-3")?.signIn).toEqual(signIn(3));
    expect(cookies.take(value, "state-2")).toBeNull();
  });

  test("expires after its lifetime, whatever the browser keeps", () => {
    const { cookies, advance } = cookie();
    const value = cookies.add(undefined, signIn(1));
    advance(TTL_MS - 1);
    expect(cookies.take(value, "state-1")?.signIn).toEqual(signIn(1));
    advance(1);
    expect(cookies.take(value, "state-1")).toBeNull();
  });

  test("a changed, made-up or foreign cookie holds nothing", () => {
    const { cookies } = cookie();
    const value = cookies.add(undefined, signIn(1));
    const flipped = `${value.slice(0, -2)}${value.at(-2) === "A" ? "B" : "A"}${value.at(-1)}`;
    for (const bad of [
      flipped,
      `${value}A`,
      "v1.",
      "v1.AAAA",
      "v2.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      Buffer.from(JSON.stringify([signIn(1)])).toString("base64url"),
      undefined,
    ])
      expect(cookies.take(bad, "state-1")).toBeNull();
    // Another key: a per-process one, or another secret.
    expect(cookie(processSecret()).cookies.take(value, "state-1")).toBeNull();
    expect(cookie(`${SECRET}-other`).cookies.take(value, "state-1")).toBeNull();
    // The same secret on another instance opens it.
    expect(cookie(SECRET).cookies.take(value, "state-1")?.signIn).toEqual(signIn(1));
  });
});
