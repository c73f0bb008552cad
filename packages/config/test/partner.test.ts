import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { ConfigError, parseEnv, partnerSettings, port } from "../src/index.ts";

const dir = mkdtempSync(join(tmpdir(), "propgate-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SECRET = "s3cr3t-value-that-must-never-be-printed";
const KEY = "ab".repeat(32);
const base = {
  PARTNER_INTERCOM_BASE_URL: "https://intercom.partner.example/api",
  PARTNER_INTERCOM_ISSUER: "https://intercom.partner.example",
  PARTNER_INTERCOM_CLIENT_ID: "propgate",
  PARTNER_INTERCOM_CLIENT_SECRET: SECRET,
  PARTNER_INTERCOM_SUBJECT_KEY: KEY,
};

const INLINE_ALLOWED = { allowInsecureLoopback: false, allowInlineSecrets: true };

function problem(
  env: Record<string, string | undefined>,
  allowInsecureLoopback = false,
  allowInlineSecrets = true,
): string {
  try {
    partnerSettings("intercom", env, { allowInsecureLoopback, allowInlineSecrets });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).not.toContain(SECRET);
    expect(message.split("\n")).toHaveLength(1);
    return message;
  }
  throw new Error("expected a ConfigError");
}

describe("partner settings", () => {
  test("a complete https configuration parses", () => {
    const settings = partnerSettings("intercom", base, INLINE_ALLOWED);
    expect(settings.baseUrl.href).toBe("https://intercom.partner.example/api");
    expect(settings.clientSecret).toBe(SECRET);
    expect(settings.subjectKey).toHaveLength(32);
    expect(settings.timeoutMs).toBe(5000);
  });

  test("each missing variable is named", () => {
    expect(problem({ ...base, PARTNER_INTERCOM_BASE_URL: undefined })).toBe(
      "config: PARTNER_INTERCOM_BASE_URL is missing",
    );
    expect(problem({ ...base, PARTNER_INTERCOM_CLIENT_ID: "" })).toBe(
      "config: PARTNER_INTERCOM_CLIENT_ID is missing",
    );
    expect(problem({ ...base, PARTNER_INTERCOM_CLIENT_SECRET: undefined })).toContain(
      "PARTNER_INTERCOM_CLIENT_SECRET is missing",
    );
    expect(problem({ ...base, PARTNER_INTERCOM_ISSUER: undefined })).toContain(
      "PARTNER_INTERCOM_ISSUER is missing",
    );
    expect(problem({ ...base, PARTNER_INTERCOM_SUBJECT_KEY: undefined })).toContain(
      "PARTNER_INTERCOM_SUBJECT_KEY is missing",
    );
  });

  test("malformed values are named without echoing them", () => {
    expect(problem({ ...base, PARTNER_INTERCOM_BASE_URL: `not a url ${SECRET}` })).toStartWith(
      "config: PARTNER_INTERCOM_BASE_URL is invalid",
    );
    expect(problem({ ...base, PARTNER_INTERCOM_SUBJECT_KEY: SECRET })).toStartWith(
      "config: PARTNER_INTERCOM_SUBJECT_KEY is invalid",
    );
    expect(problem({ ...base, PARTNER_INTERCOM_TIMEOUT_MS: "soon" })).toStartWith(
      "config: PARTNER_INTERCOM_TIMEOUT_MS is invalid",
    );
  });

  test("plain http is refused, except loopback in development", () => {
    const http = { ...base, PARTNER_INTERCOM_BASE_URL: "http://intercom.partner.example" };
    expect(problem(http, true)).toContain("PARTNER_INTERCOM_BASE_URL is invalid");
    const loopback = {
      ...base,
      PARTNER_INTERCOM_BASE_URL: "http://127.0.0.1:9000",
      PARTNER_INTERCOM_ISSUER: "http://127.0.0.1:9000",
    };
    expect(problem(loopback, false)).toContain("must be https outside development and test");
    expect(
      partnerSettings("intercom", loopback, { ...INLINE_ALLOWED, allowInsecureLoopback: true })
        .baseUrl.port,
    ).toBe("9000");
  });

  test("secrets can come from files, and unreadable files are named", () => {
    const secretFile = join(dir, "secret");
    writeFileSync(secretFile, `${SECRET}\n`);
    chmodSync(secretFile, 0o600);
    const env = {
      ...base,
      PARTNER_INTERCOM_CLIENT_SECRET: undefined,
      PARTNER_INTERCOM_CLIENT_SECRET_FILE: secretFile,
    };
    expect(partnerSettings("intercom", env, INLINE_ALLOWED).clientSecret).toBe(SECRET);
    expect(problem({ ...env, PARTNER_INTERCOM_CLIENT_SECRET_FILE: join(dir, "absent") })).toBe(
      "config: PARTNER_INTERCOM_CLIENT_SECRET_FILE points at a file that cannot be read",
    );
    expect(problem({ ...env, PARTNER_INTERCOM_CLIENT_SECRET: SECRET })).toContain("are both set");
  });

  test("production refuses an inline secret or subject key, naming it; the _FILE forms pass", () => {
    const secretFile = join(dir, "production-secret");
    const keyFile = join(dir, "production-subject-key");
    writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
    writeFileSync(keyFile, `${KEY}\n`, { mode: 0o600 });
    const files = {
      ...base,
      PARTNER_INTERCOM_CLIENT_SECRET: undefined,
      PARTNER_INTERCOM_CLIENT_SECRET_FILE: secretFile,
      PARTNER_INTERCOM_SUBJECT_KEY: undefined,
      PARTNER_INTERCOM_SUBJECT_KEY_FILE: keyFile,
    };
    const production = { allowInsecureLoopback: false, allowInlineSecrets: false };
    const settings = partnerSettings("intercom", files, production);
    expect(settings.clientSecret).toBe(SECRET);
    expect(Buffer.from(settings.subjectKey).toString("hex")).toBe(KEY);

    expect(
      problem(
        {
          ...files,
          PARTNER_INTERCOM_CLIENT_SECRET_FILE: undefined,
          PARTNER_INTERCOM_CLIENT_SECRET: SECRET,
        },
        false,
        false,
      ),
    ).toBe(
      "config: PARTNER_INTERCOM_CLIENT_SECRET is refused in production (the environment is not secret): put it in a file and set PARTNER_INTERCOM_CLIENT_SECRET_FILE",
    );
    expect(
      problem(
        {
          ...files,
          PARTNER_INTERCOM_SUBJECT_KEY_FILE: undefined,
          PARTNER_INTERCOM_SUBJECT_KEY: KEY,
        },
        false,
        false,
      ),
    ).toBe(
      "config: PARTNER_INTERCOM_SUBJECT_KEY is refused in production (the environment is not secret): put it in a file and set PARTNER_INTERCOM_SUBJECT_KEY_FILE",
    );
    // Both forms at once is a mistake whatever the environment, and says so first.
    expect(problem({ ...files, PARTNER_INTERCOM_SUBJECT_KEY: KEY }, false, false)).toBe(
      "config: PARTNER_INTERCOM_SUBJECT_KEY and PARTNER_INTERCOM_SUBJECT_KEY_FILE are both set",
    );
  });

  test("mTLS needs both certificate and key", () => {
    const cert = join(dir, "cert.pem");
    writeFileSync(cert, "-----BEGIN CERTIFICATE-----\n");
    expect(problem({ ...base, PARTNER_INTERCOM_CLIENT_CERT_FILE: cert })).toContain(
      "PARTNER_INTERCOM_CLIENT_KEY_FILE is missing",
    );
  });
});

describe("parseEnv", () => {
  test("names the variable and keeps the value out", () => {
    const schema = z.object({ PORT: port });
    expect(() => parseEnv(schema, { PORT: "99999" })).toThrow(
      "config: PORT is invalid: must be an integer port 0-65535",
    );
    expect(parseEnv(schema, { PORT: "8080" })).toEqual({ PORT: 8080 });
  });
});
