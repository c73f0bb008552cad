import { describe, expect, setSystemTime, test } from "bun:test";
import {
  ACCESS_CHECK_OPERATIONS,
  ACCESS_METHODS,
  AUDIT_KINDS,
  AUDIT_OPERATIONS,
  clientNetwork,
  DomainError,
  ERASURE_CATEGORIES,
  ERASURE_PARTNER,
  ERROR_CODES,
  isDomainError,
  newId,
  newTimeOrderedId,
  PARTNER_OPERATIONS,
  PARTNERS,
  PURPOSES,
  SiteId,
  TypedId,
  UserId,
} from "../src/index.ts";

describe("vocabulary", () => {
  test("no list repeats a value", () => {
    for (const list of [
      PARTNERS,
      PURPOSES,
      ERASURE_CATEGORIES,
      PARTNER_OPERATIONS,
      AUDIT_KINDS,
      AUDIT_OPERATIONS,
      ERROR_CODES,
    ]) {
      expect(new Set(list).size).toBe(list.length);
    }
  });

  test("each erasure category is a purpose held by a known partner", () => {
    for (const category of ERASURE_CATEGORIES) {
      expect(PURPOSES).toContain(category);
      expect(PARTNERS).toContain(ERASURE_PARTNER[category]);
    }
  });

  test("audit operations cover every partner operation and one access check per method", () => {
    for (const operation of PARTNER_OPERATIONS) expect(AUDIT_OPERATIONS).toContain(operation);
    expect(ACCESS_CHECK_OPERATIONS.map((op) => op.replace("access_check.", ""))).toEqual([
      ...ACCESS_METHODS,
    ]);
  });
});

describe("ids", () => {
  test("newId makes prefixed ids that TypedId accepts, and only of its prefix", () => {
    const id = newId("vss");
    expect(id).toMatch(/^vss_[0-9a-z]{20}$/);
    expect(TypedId("vss").safeParse(id).success).toBe(true);
    expect(TypedId("evt").safeParse(id).success).toBe(false);
    expect(TypedId("vss").safeParse(`${id}x`).success).toBe(false);
    expect(newId("vss")).not.toBe(id);
  });

  test("newTimeOrderedId: the shape TypedId accepts, ordered by the millisecond it was made", () => {
    try {
      setSystemTime(new Date("2026-12-07T10:00:00.000Z"));
      const first = newTimeOrderedId("evt");
      const same = Array.from({ length: 50 }, () => newTimeOrderedId("evt"));
      setSystemTime(new Date("2026-12-07T10:00:00.001Z"));
      const later = Array.from({ length: 50 }, () => newTimeOrderedId("evt"));
      expect(TypedId("evt").safeParse(first).success).toBe(true);
      // The head is the time: the same millisecond, the same first ten characters.
      for (const id of same) expect(id.slice(0, 14)).toBe(first.slice(0, 14));
      for (const id of later) expect(id > first).toBe(true);
      expect(new Set([...same, ...later]).size).toBe(100);
      expect(first.slice(4, 14)).toMatch(/^[0-9a-z]{10}$/);
    } finally {
      setSystemTime();
    }
  });

  test("user and site ids keep to their alphabets", () => {
    expect(UserId.safeParse("user-1@tenant|core").success).toBe(true);
    expect(UserId.safeParse("a b").success).toBe(false);
    expect(UserId.safeParse("x".repeat(129)).success).toBe(false);
    expect(SiteId.safeParse("site-a").success).toBe(true);
    expect(SiteId.safeParse("site/a").success).toBe(false);
  });
});

describe("DomainError", () => {
  class Example extends DomainError {
    readonly code = "NOT_FOUND" as const;
  }

  test("carries its code; retryAfterSeconds is null unless a subclass knows it", () => {
    const error = new Example("nothing here");
    expect(isDomainError(error)).toBe(true);
    expect(isDomainError(new Error("plain"))).toBe(false);
    expect(error.code).toBe("NOT_FOUND");
    expect(error.retryAfterSeconds).toBeNull();
    expect(error.message).toBe("nothing here");
    expect(error.name).toBe("Example");
  });
});

describe("clientNetwork", () => {
  test("IPv4 to /16, IPv6 to /48 (zeros expanded), anything else hidden whole", () => {
    expect(clientNetwork("198.51.100.7")).toBe("198.51.x.x");
    expect(clientNetwork("::ffff:203.0.113.9")).toBe("203.0.x.x");
    expect(clientNetwork("2001:db8:85a3:8d3:1319:8a2e:370:7348")).toBe("2001:db8:85a3:…");
    expect(clientNetwork("2001:DB8::1")).toBe("2001:db8:0:…");
    expect(clientNetwork("::1")).toBe("0:0:0:…");
    for (const junk of ["", "localhost", "1.2.3", "1::2::3", "1:2:3:4:5:6:7:8:9", "12345::"])
      expect(clientNetwork(junk)).toBe("(address)");
  });
});
