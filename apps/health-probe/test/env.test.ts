import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@propgate/config";
import { loadProbeEnv } from "../src/index.ts";

const dir = mkdtempSync(join(tmpdir(), "propgate-probe-env-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SECRET = "probe-secret-that-must-never-be-printed";

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

/** Production settings of the probe, partner secrets and the database password in files. */
function production(): Record<string, string | undefined> {
  return {
    PROPGATE_ENV: "production",
    DATABASE_URL: "postgres://propgate_probe@db.internal:5432/propgate?sslmode=verify-full",
    DATABASE_PASSWORD_FILE: file("database-password", "db-password\n"),
    PARTNER_INTERCOM_BASE_URL: "https://intercom.partner.example",
    PARTNER_INTERCOM_ISSUER: "https://intercom.partner.example",
    PARTNER_INTERCOM_CLIENT_ID: "propgate",
    PARTNER_INTERCOM_CLIENT_SECRET_FILE: file("secret", SECRET),
    PARTNER_INTERCOM_SUBJECT_KEY_FILE: file("subject-key", "ab".repeat(32)),
  };
}

function problem(env: Record<string, string | undefined>): string {
  try {
    loadProbeEnv(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).not.toContain(SECRET);
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("the probe's settings in production", () => {
  test("partner secrets from files and the database password from its file", () => {
    const env = loadProbeEnv(production());
    expect(env.partners.map((partner) => partner.clientSecret)).toEqual([SECRET]);
    expect(env.databasePassword).toBe("db-password");
    expect(env.inlineDatabasePasswordWarning).toBeNull();
  });

  test("an inline client secret or subject key is refused, naming it, as the api refuses it", () => {
    expect(
      problem({
        ...production(),
        PARTNER_INTERCOM_CLIENT_SECRET_FILE: undefined,
        PARTNER_INTERCOM_CLIENT_SECRET: SECRET,
      }),
    ).toStartWith("config: PARTNER_INTERCOM_CLIENT_SECRET is refused in production");
    expect(
      problem({
        ...production(),
        PARTNER_INTERCOM_SUBJECT_KEY_FILE: undefined,
        PARTNER_INTERCOM_SUBJECT_KEY: "ab".repeat(32),
      }),
    ).toStartWith("config: PARTNER_INTERCOM_SUBJECT_KEY is refused in production");
  });

  test("a password inline in DATABASE_URL is taken, with the warning to log; outside production, none", () => {
    const inline = {
      ...production(),
      DATABASE_PASSWORD_FILE: undefined,
      DATABASE_URL: "postgres://propgate_probe:db-password@db.internal:5432/propgate",
    };
    expect(loadProbeEnv(inline).inlineDatabasePasswordWarning).toContain("DATABASE_PASSWORD_FILE");
    const development = {
      ...inline,
      PROPGATE_ENV: "development",
      PARTNER_INTERCOM_CLIENT_SECRET_FILE: undefined,
      PARTNER_INTERCOM_CLIENT_SECRET: SECRET,
    };
    const env = loadProbeEnv(development);
    expect(env.inlineDatabasePasswordWarning).toBeNull();
    expect(env.partners[0]?.clientSecret).toBe(SECRET);
  });
});
