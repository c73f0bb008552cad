import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, certificateFiles, databaseCa, partnerSettings } from "../src/index.ts";

const dir = mkdtempSync(join(tmpdir(), "propgate-config-tls-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const KEY_BODY = "private-key-body-that-must-never-be-printed";
const cert = join(dir, "cert.pem");
const key = join(dir, "key.pem");
const notPem = join(dir, "not-pem.txt");
writeFileSync(cert, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
writeFileSync(key, `-----BEGIN PRIVATE KEY-----\n${KEY_BODY}\n-----END PRIVATE KEY-----\n`);
writeFileSync(notPem, KEY_BODY);

function problem(env: Record<string, string | undefined>): string {
  try {
    certificateFiles(env, "TLS_CERT_FILE", "TLS_KEY_FILE");
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).not.toContain(KEY_BODY);
    return message;
  }
  throw new Error("expected a ConfigError");
}

describe("certificate files", () => {
  test("neither set: no TLS", () => {
    expect(certificateFiles({}, "TLS_CERT_FILE", "TLS_KEY_FILE")).toBeNull();
    expect(certificateFiles({ TLS_CERT_FILE: "" }, "TLS_CERT_FILE", "TLS_KEY_FILE")).toBeNull();
  });

  test("both set to PEM files: their paths", () => {
    expect(
      certificateFiles({ TLS_CERT_FILE: cert, TLS_KEY_FILE: key }, "TLS_CERT_FILE", "TLS_KEY_FILE"),
    ).toEqual({ certFile: cert, keyFile: key });
  });

  test("one without the other names the missing one", () => {
    expect(problem({ TLS_CERT_FILE: cert })).toBe(
      "config: TLS_KEY_FILE is missing (TLS_CERT_FILE is set; TLS needs both)",
    );
    expect(problem({ TLS_KEY_FILE: key })).toBe(
      "config: TLS_CERT_FILE is missing (TLS_KEY_FILE is set; TLS needs both)",
    );
  });

  test("an unreadable or non-PEM file is named, its content never printed", () => {
    expect(problem({ TLS_CERT_FILE: join(dir, "absent.pem"), TLS_KEY_FILE: key })).toBe(
      "config: TLS_CERT_FILE points at a file that cannot be read",
    );
    expect(problem({ TLS_CERT_FILE: cert, TLS_KEY_FILE: notPem })).toBe(
      "config: TLS_KEY_FILE points at a file without a PEM private key",
    );
    expect(problem({ TLS_CERT_FILE: key, TLS_KEY_FILE: key })).toBe(
      "config: TLS_CERT_FILE points at a file without a PEM certificate",
    );
  });
});

describe("partner TLS files", () => {
  const partner = {
    PARTNER_INTERCOM_BASE_URL: "https://intercom.partner.example",
    PARTNER_INTERCOM_TOKEN_URL: "https://intercom.partner.example/oauth/token",
    PARTNER_INTERCOM_CLIENT_ID: "propgate",
    PARTNER_INTERCOM_CLIENT_SECRET: "secret",
    PARTNER_INTERCOM_SUBJECT_KEY: "ab".repeat(32),
  };
  const settings = (env: Record<string, string>) =>
    partnerSettings(
      "intercom",
      { ...partner, ...env },
      { allowInsecureLoopback: false, allowInlineSecrets: true },
    );

  test("CA, client certificate and key are PEM files, checked at startup", () => {
    expect(
      settings({
        PARTNER_INTERCOM_CA_FILE: cert,
        PARTNER_INTERCOM_CLIENT_CERT_FILE: cert,
        PARTNER_INTERCOM_CLIENT_KEY_FILE: key,
      }),
    ).toMatchObject({ caFile: cert, clientCertFile: cert, clientKeyFile: key });
    expect(() => settings({ PARTNER_INTERCOM_CA_FILE: notPem })).toThrow(
      "config: PARTNER_INTERCOM_CA_FILE points at a file without a PEM certificate",
    );
    expect(() =>
      settings({
        PARTNER_INTERCOM_CLIENT_CERT_FILE: cert,
        PARTNER_INTERCOM_CLIENT_KEY_FILE: cert,
      }),
    ).toThrow(
      "config: PARTNER_INTERCOM_CLIENT_KEY_FILE points at a file without a PEM private key",
    );
  });
});

describe("the database's CA (DATABASE_CA_FILE)", () => {
  const verifyFull = "postgres://propgate_api@db.internal:5432/propgate?sslmode=verify-full";

  test("unset: none; with sslmode=verify-full or verify-ca: the file's PEM", () => {
    expect(databaseCa({ DATABASE_URL: verifyFull })).toBeUndefined();
    expect(databaseCa({ DATABASE_URL: verifyFull, DATABASE_CA_FILE: "" })).toBeUndefined();
    const pem = readFileSync(cert, "utf8");
    expect(databaseCa({ DATABASE_URL: verifyFull, DATABASE_CA_FILE: cert })).toBe(pem);
    const verifyCa = verifyFull.replace("verify-full", "verify-ca");
    expect(databaseCa({ DATABASE_URL: verifyCa, DATABASE_CA_FILE: cert })).toBe(pem);
  });

  test("refused where it would go unused, unreadable or not PEM; the content never printed", () => {
    for (const url of [verifyFull.replace("verify-full", "require"), verifyFull.split("?")[0]]) {
      expect(() => databaseCa({ DATABASE_URL: url, DATABASE_CA_FILE: cert })).toThrow(
        "config: DATABASE_CA_FILE is set but DATABASE_URL has no sslmode=verify-full (or verify-ca): the CA would not be used",
      );
    }
    expect(() =>
      databaseCa({ DATABASE_URL: verifyFull, DATABASE_CA_FILE: join(dir, "absent.pem") }),
    ).toThrow("config: DATABASE_CA_FILE points at a file that cannot be read");
    let message = "";
    try {
      databaseCa({ DATABASE_URL: verifyFull, DATABASE_CA_FILE: notPem });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      message = (error as Error).message;
    }
    expect(message).toBe("config: DATABASE_CA_FILE points at a file without a PEM certificate");
    expect(message).not.toContain(KEY_BODY);
  });
});
