import { describe, expect, test } from "bun:test";
import { cidrList, createClientAddressResolver } from "../src/client-address.ts";
import { loadApiEnv } from "../src/env.ts";
import type { Cidr } from "../src/net/cidr.ts";

/** The address the per-IP limit and address blocks count (TRUST_PROXY_CIDRS). */

const PROXIES: Cidr[] = [
  { address: "10.0.0.0", prefix: 8, family: "ipv4" },
  { address: "fd00::", prefix: 8, family: "ipv6" },
];

describe("the client address resolver", () => {
  test("trusts X-Forwarded-For only from configured proxies", () => {
    const resolve = createClientAddressResolver(PROXIES);
    expect(resolve("203.0.113.5", "198.51.100.1")).toBe("203.0.113.5");
    expect(resolve("10.1.1.1", "198.51.100.1")).toBe("198.51.100.1");
    expect(resolve("fd12::1", "2001:db8::7")).toBe("2001:db8::7");
    expect(resolve("10.1.1.1", null)).toBe("10.1.1.1");
    expect(resolve("10.1.1.1", undefined)).toBe("10.1.1.1");
    expect(resolve(null, "198.51.100.1")).toBeNull();
    expect(createClientAddressResolver([])("10.1.1.1", "198.51.100.1")).toBe("10.1.1.1");
  });

  test("counts the right-most hop that is not a proxy: entries left of it are the client's to forge", () => {
    const resolve = createClientAddressResolver(PROXIES);
    expect(resolve("10.1.1.1", "1.1.1.1, 198.51.100.1, 10.2.2.2")).toBe("198.51.100.1");
    expect(resolve("10.1.1.1", "203.0.113.99, 198.51.100.7")).toBe("198.51.100.7");
    // Every hop a proxy: the left-most one is as close to the client as can be known.
    expect(resolve("10.1.1.1", "10.3.3.3, 10.2.2.2")).toBe("10.3.3.3");
  });

  test("a malformed hop ends the walk at the last good one", () => {
    const resolve = createClientAddressResolver(PROXIES);
    expect(resolve("10.1.1.1", "not-an-ip")).toBe("10.1.1.1");
    expect(resolve("10.1.1.1", "198.51.100.1, unknown, 10.2.2.2")).toBe("10.2.2.2");
    expect(resolve("10.1.1.1", "198.51.100.1,,")).toBe("10.1.1.1");
  });
});

describe("TRUST_PROXY_CIDRS", () => {
  /** The least a development instance starts with. */
  const env: Record<string, string> = {
    PROPGATE_ENV: "development",
    AUTH_ISSUER: "http://127.0.0.1:9000",
    AUTH_AUDIENCE: "propgate-api",
    AUTH_JWKS_URL: "http://127.0.0.1:9000/jwks",
  };
  for (const partner of ["INTERCOM", "BARRIER"]) {
    Object.assign(env, {
      [`PARTNER_${partner}_BASE_URL`]: "http://127.0.0.1:9001",
      [`PARTNER_${partner}_ISSUER`]: "http://127.0.0.1:9001",
      [`PARTNER_${partner}_CLIENT_ID`]: "propgate",
      [`PARTNER_${partner}_CLIENT_SECRET`]: "s".repeat(32),
      [`PARTNER_${partner}_SUBJECT_KEY`]: Buffer.alloc(32, 7).toString("base64"),
    });
  }

  test("is a list of CIDRs, a bare address one host; unset, no proxy is trusted", () => {
    expect(cidrList.parse("10.0.0.0/8, ::1")).toEqual([
      { address: "10.0.0.0", prefix: 8, family: "ipv4" },
      { address: "::1", prefix: 128, family: "ipv6" },
    ]);
    expect(loadApiEnv({ ...env, TRUST_PROXY_CIDRS: "10.0.0.0/8, ::1" }).TRUST_PROXY_CIDRS).toEqual(
      cidrList.parse("10.0.0.0/8, ::1"),
    );
    expect(loadApiEnv(env).TRUST_PROXY_CIDRS).toEqual([]);
  });

  test("a bad one stops startup naming the variable", () => {
    for (const bad of ["10.0.0.0/33", "10.0.0/8", "example.com", "10.0.0.0/x"])
      expect(cidrList.safeParse(bad).success).toBe(false);
    expect(() => loadApiEnv({ ...env, TRUST_PROXY_CIDRS: "10.0.0.0/33" })).toThrow(
      /^config: TRUST_PROXY_CIDRS is invalid/,
    );
  });
});
