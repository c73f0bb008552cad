import { describe, expect, test } from "bun:test";
import { cookieHeader, createSessionStore, type NewSession, sameSecret } from "../src/session.ts";

const signedIn: NewSession = {
  userId: "admin-1",
  roles: ["propgate:operator"],
  accessToken: "access",
  accessTokenExpiresAt: 0,
  refreshToken: null,
  idToken: null,
};

describe("session cookie", () => {
  test("over https: __Host- prefix, Secure, HttpOnly, SameSite=Strict, Path=/", () => {
    const header = cookieHeader("propgate-admin", "abc", {
      secure: true,
      sameSite: "Strict",
      maxAge: 28_800,
    });
    expect(header).toBe(
      "__Host-propgate-admin=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=28800; Secure",
    );
  });

  test("plain http on loopback (development): the same without Secure and its prefix", () => {
    const header = cookieHeader("propgate-admin", "abc", {
      secure: false,
      sameSite: "Strict",
      maxAge: 60,
    });
    expect(header).toBe("propgate-admin=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=60");
    expect(header).not.toContain("Secure");
  });

  test("a deleted cookie has Max-Age=0", () => {
    expect(cookieHeader("x", "", { secure: true, sameSite: "Strict", maxAge: 0 })).toContain(
      "Max-Age=0",
    );
  });
});

describe("session store", () => {
  function store() {
    let now = 1_000_000;
    const sessions = createSessionStore({ idleMs: 30_000, absoluteMs: 120_000, now: () => now });
    return { sessions, advance: (ms: number) => (now += ms) };
  }

  test("every session has its own random id and CSRF token", () => {
    const { sessions } = store();
    const a = sessions.create(signedIn);
    const b = sessions.create(signedIn);
    expect(a.id).not.toBe(b.id);
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.session.csrfToken).not.toBe(b.session.csrfToken);
    expect(a.session.csrfToken).not.toBe(a.id);
    sessions.stop();
  });

  test("idle timeout: unused past it the session is gone; use restarts the timer", () => {
    const { sessions, advance } = store();
    const { id } = sessions.create(signedIn);
    advance(29_000);
    expect(sessions.touch(id)).not.toBeNull();
    advance(29_000);
    expect(sessions.touch(id)).not.toBeNull();
    advance(30_000);
    expect(sessions.touch(id)).toBeNull();
    expect(sessions.size()).toBe(0);
    sessions.stop();
  });

  test("absolute timeout: a busy session ends too", () => {
    const { sessions, advance } = store();
    const { id, session } = sessions.create(signedIn);
    for (let i = 0; i < 5; i++) {
      advance(20_000);
      expect(sessions.touch(id)).not.toBeNull();
    }
    expect(sessions.endsAt(session)).toBe(1_000_000 + 120_000);
    advance(20_000);
    expect(sessions.touch(id)).toBeNull();
    sessions.stop();
  });

  test("delete ends it; unknown and missing ids find nothing", () => {
    const { sessions } = store();
    const { id } = sessions.create(signedIn);
    expect(sessions.delete(id)?.userId).toBe("admin-1");
    expect(sessions.touch(id)).toBeNull();
    expect(sessions.touch("nope")).toBeNull();
    expect(sessions.touch(undefined)).toBeNull();
    sessions.stop();
  });

  test("sameSecret compares exactly", () => {
    expect(sameSecret("abc", "abc")).toBe(true);
    expect(sameSecret("abd", "abc")).toBe(false);
    expect(sameSecret("ab", "abc")).toBe(false);
    expect(sameSecret(undefined, "abc")).toBe(false);
  });
});
