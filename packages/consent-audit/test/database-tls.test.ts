import { describe, expect, test } from "bun:test";
import type { PeerCertificate } from "node:tls";
import { postgresConnection } from "../src/database-tls";

/** How a deployment URL becomes postgres.js options; the handshake itself: apps/dev/test/database-tls.e2e.test.ts. */
const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

function certificate(subjectaltname: string): PeerCertificate {
  return { subject: { CN: "db" }, subjectaltname } as unknown as PeerCertificate;
}

describe("postgresConnection", () => {
  test("require, prefer, disable and no sslmode are left to postgres.js as they are", () => {
    for (const url of [
      "postgres://api@db.internal:5432/propgate",
      "postgres://api@db.internal:5432/propgate?sslmode=require",
      "postgres://api@db.internal:5432/propgate?sslmode=prefer&application_name=api",
      "postgres://api@db.internal:5432/propgate?sslmode=disable",
    ]) {
      const connection = postgresConnection(url, CA);
      expect(connection.url).toBe(url);
      // No `ssl` key at all: even an undefined one would override the URL's sslmode.
      expect(Object.keys(connection.options)).toEqual([]);
    }
  });

  test("verify-full: sslmode leaves the URL, the CA is given, the URL's host is checked", () => {
    const { url, options } = postgresConnection(
      "postgres://api:p%40ss@10.0.0.5:5432/propgate?application_name=api&sslmode=verify-full",
      CA,
    );
    expect(url).toBe("postgres://api:p%40ss@10.0.0.5:5432/propgate?application_name=api");
    expect(options.ssl?.ca).toBe(CA);
    expect(options.ssl?.rejectUnauthorized).toBe(true);
    const check = options.ssl?.checkServerIdentity;
    // Whatever name the runtime passes, the certificate must hold the URL's IP.
    expect(check?.("localhost", certificate("IP Address:10.0.0.5"))).toBeUndefined();
    expect(check?.("localhost", certificate("DNS:localhost"))?.message).toContain(
      "IP: 10.0.0.5 is not in the cert's list",
    );
    expect(check?.("10.0.0.5", certificate("DNS:db.other.example"))).toBeInstanceOf(Error);
  });

  test("verify-full by name and over several hosts; no CA: the system's", () => {
    const single = postgresConnection("postgres://api@db.internal/propgate?sslmode=verify-full");
    expect(single.url).toBe("postgres://api@db.internal/propgate");
    expect(single.options.ssl && "ca" in single.options.ssl).toBe(false);
    const check = single.options.ssl?.checkServerIdentity;
    expect(check?.("db.internal", certificate("DNS:db.internal"))).toBeUndefined();
    expect(check?.("db.internal", certificate("DNS:db.other.example"))).toBeInstanceOf(Error);
    const multi = postgresConnection(
      "postgres://api@db1.internal:5432,db2.internal:5433/propgate?sslmode=verify-full",
    ).options.ssl?.checkServerIdentity;
    expect(multi?.("db2.internal", certificate("DNS:db2.internal"))).toBeUndefined();
    // Connected to db1: db2's certificate is not db1's.
    expect(multi?.("db1.internal", certificate("DNS:db2.internal"))).toBeInstanceOf(Error);
    expect(multi?.("db3.internal", certificate("DNS:db3.internal"))).toBeInstanceOf(Error);
  });

  test("verify-ca: the chain only", () => {
    const { url, options } = postgresConnection(
      "postgres://api@10.0.0.5/propgate?sslmode=verify-ca",
      CA,
    );
    expect(url).toBe("postgres://api@10.0.0.5/propgate");
    expect(options.ssl?.ca).toBe(CA);
    expect(options.ssl?.rejectUnauthorized).toBe(true);
    expect(
      options.ssl?.checkServerIdentity("x", certificate("DNS:db.other.example")),
    ).toBeUndefined();
  });
});
