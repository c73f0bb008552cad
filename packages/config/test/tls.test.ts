import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, certificateFiles, partnerSettings } from "../src/index.ts";

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
    partnerSettings("intercom", { ...partner, ...env }, { allowInsecureLoopback: false });

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
