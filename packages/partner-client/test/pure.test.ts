import { describe, expect, test } from "bun:test";
import {
  OpenRequest,
  OpenResponse,
  parseRetryAfter,
  refreshSkewMs,
  subjectFor,
} from "../src/index.ts";

// The token source and client are exercised against the real partner simulator in
// apps/dev/test/partner-resilience.e2e.test.ts (this package cannot depend on the simulator,
// which depends on this package's contract).

describe("refresh skew", () => {
  test("max(60 s, 10 % of the lifetime), at most half the lifetime", () => {
    expect(refreshSkewMs(3600_000)).toBe(360_000);
    expect(refreshSkewMs(300_000)).toBe(60_000);
    expect(refreshSkewMs(60_000)).toBe(30_000);
    expect(refreshSkewMs(4_000)).toBe(2_000);
  });
});

describe("Retry-After", () => {
  test("seconds and HTTP dates; garbage is ignored", () => {
    expect(parseRetryAfter("3")).toBe(3000);
    expect(parseRetryAfter(" 0 ")).toBe(0);
    const now = Date.parse("2026-11-27T10:00:00Z");
    expect(parseRetryAfter("Fri, 27 Nov 2026 10:00:05 GMT", now)).toBe(5000);
    expect(parseRetryAfter("Fri, 27 Nov 2026 09:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon")).toBeNull();
    expect(parseRetryAfter("-1")).toBeNull();
    expect(parseRetryAfter(null)).toBeNull();
  });
});

describe("subject pseudonym", () => {
  test("stable per partner key, different across keys, never the user id", () => {
    const keyA = new Uint8Array(32).fill(1);
    const keyB = new Uint8Array(32).fill(2);
    const subject = subjectFor("user-42", keyA);
    expect(subject).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(subjectFor("user-42", keyA)).toBe(subject);
    expect(subjectFor("user-42", keyB)).not.toBe(subject);
    expect(subject).not.toContain("user-42");
  });
});

describe("contract schemas", () => {
  test("the open request carries only the subject", () => {
    const subject = subjectFor("u", new Uint8Array(32));
    expect(OpenRequest.parse({ subject })).toEqual({ subject });
    expect(OpenRequest.safeParse({ subject, userId: "u" }).success).toBe(false);
    expect(OpenRequest.safeParse({ subject: "user-42" }).success).toBe(false);
  });
  test("the open response must have an event id and a timestamp", () => {
    expect(
      OpenResponse.safeParse({ eventId: "e1", openedAt: "2026-11-27T10:00:00Z" }).success,
    ).toBe(true);
    expect(OpenResponse.safeParse({ openedAt: "2026-11-27T10:00:00Z" }).success).toBe(false);
    expect(OpenResponse.safeParse({ eventId: "e1", openedAt: "yesterday" }).success).toBe(false);
  });
});
