import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadAdminEnv } from "../src/env.ts";

const dir = mkdtempSync(join(tmpdir(), "propgate-admin-env-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const SECRET = "a-client-secret-nobody-may-see";
const secretFile = join(dir, "secret");
writeFileSync(secretFile, `${SECRET}\n`);
writeFileSync(join(dir, "empty"), "\n");
const SESSION_SECRET = "a-session-secret-of-well-over-32-characters";
writeFileSync(join(dir, "session-secret"), `${SESSION_SECRET}\n`);
writeFileSync(join(dir, "short-secret"), "too-short-a-secret\n");

const DATABASE_PASSWORD = "a-database-password-nobody-may-see";
writeFileSync(join(dir, "db-password"), `${DATABASE_PASSWORD}\n`);

const production: Record<string, string> = {
  API_URL: "https://api.internal",
  ADMIN_URL: "https://admin.example.com",
  ADMIN_OIDC_ISSUER: "https://login.example.com/tenant",
  ADMIN_OIDC_CLIENT_ID: "propgate-admin",
  ADMIN_OIDC_CLIENT_SECRET_FILE: secretFile,
  ADMIN_SESSION_SECRET_FILE: join(dir, "session-secret"),
  DATABASE_URL: "postgres://propgate_admin_app@db.internal:5432/propgate",
  DATABASE_PASSWORD_FILE: join(dir, "db-password"),
};

/** `production` without `names`. */
const without = (...names: string[]) =>
  Object.fromEntries(Object.entries(production).filter(([name]) => !names.includes(name)));

function problem(source: Record<string, string>): string {
  try {
    loadAdminEnv(source);
  } catch (error) {
    return (error as Error).message;
  }
  return "none";
}

describe("admin app settings", () => {
  test("production: secrets from their files, session defaults 30 min idle and 8 h", () => {
    const env = loadAdminEnv(production);
    expect(env.clientSecret).toBe(SECRET);
    expect(env.ADMIN_URL?.origin).toBe("https://admin.example.com");
    expect(env.ADMIN_SESSION_IDLE_SECONDS).toBe(1800);
    expect(env.ADMIN_SESSION_MAX_SECONDS).toBe(28_800);
    expect(env.allowInsecureLoopback).toBe(false);
    expect(env.sessionSecret).toBe(SESSION_SECRET);
    expect(env.DATABASE_URL).toBe("postgres://propgate_admin_app@db.internal:5432/propgate");
    expect(env.databasePassword).toBe(DATABASE_PASSWORD);
    expect(env.inlineDatabasePasswordWarning).toBeNull();
    const inline = loadAdminEnv({
      ...without("DATABASE_PASSWORD_FILE"),
      DATABASE_URL: `postgres://propgate_admin_app:${DATABASE_PASSWORD}@db.internal:5432/propgate`,
    });
    expect(inline.inlineDatabasePasswordWarning).toContain("DATABASE_PASSWORD_FILE");
    expect(inline.inlineDatabasePasswordWarning).not.toContain(DATABASE_PASSWORD);
  });

  test("production: the sessions' database and the shared secret are required", () => {
    expect(problem(without("ADMIN_SESSION_SECRET_FILE"))).toStartWith(
      "config: ADMIN_SESSION_SECRET_FILE is missing: production seals sessions and sign-ins with it, the same file on every replica",
    );
    expect(problem(without("DATABASE_URL", "DATABASE_PASSWORD_FILE"))).toBe(
      "config: DATABASE_URL is missing",
    );
    expect(problem({ ...without("DATABASE_URL", "DATABASE_PASSWORD_FILE"), DATA_DIR: dir })).toBe(
      "config: DATABASE_URL is missing: DATA_DIR (embedded PGlite) is for development only",
    );
  });

  test("one line naming the bad variable, never its value", () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ ...production, ADMIN_URL: "" }, "config: ADMIN_URL is missing"],
      [{ ...production, ADMIN_URL: "http://admin.example.com" }, "config: ADMIN_URL is invalid"],
      [{ ...production, ADMIN_URL: "http://127.0.0.1:8790" }, "config: ADMIN_URL is invalid"],
      [{ ...production, ADMIN_URL: "https://a.example/admin" }, "config: ADMIN_URL is invalid"],
      [
        { ...production, ADMIN_OIDC_ISSUER: "http://127.0.0.1:9" },
        "config: ADMIN_OIDC_ISSUER is invalid",
      ],
      [{ ...production, API_URL: "http://api.internal" }, "config: API_URL is invalid"],
      [{ ...production, ADMIN_OIDC_CLIENT_ID: "" }, "config: ADMIN_OIDC_CLIENT_ID is missing"],
      [
        { ...production, ADMIN_OIDC_CLIENT_SECRET_FILE: join(dir, "absent") },
        "config: ADMIN_OIDC_CLIENT_SECRET_FILE points at a file that cannot be read",
      ],
      [
        { ...production, ADMIN_OIDC_CLIENT_SECRET_FILE: join(dir, "empty") },
        "config: ADMIN_OIDC_CLIENT_SECRET_FILE points at an empty file",
      ],
      [
        { ...production, ADMIN_SESSION_SECRET_FILE: join(dir, "absent") },
        "config: ADMIN_SESSION_SECRET_FILE points at a file that cannot be read",
      ],
      [
        { ...production, ADMIN_SESSION_SECRET_FILE: join(dir, "short-secret") },
        "config: ADMIN_SESSION_SECRET_FILE must hold at least 32 characters",
      ],
      [{ ...production, DATABASE_URL: "mysql://db" }, "config: DATABASE_URL is invalid"],
      [
        { ...production, DATABASE_CA_FILE: join(dir, "absent") },
        "config: DATABASE_CA_FILE is set but DATABASE_URL has no sslmode=verify-full",
      ],
      [
        { ...production, DATABASE_PASSWORD_FILE: join(dir, "empty") },
        "config: DATABASE_PASSWORD_FILE points at an empty file",
      ],
      [
        { ...production, ADMIN_SESSION_IDLE_SECONDS: "0" },
        "config: ADMIN_SESSION_IDLE_SECONDS is invalid",
      ],
      [
        { ...production, ADMIN_SESSION_IDLE_SECONDS: "7200", ADMIN_SESSION_MAX_SECONDS: "3600" },
        "config: ADMIN_SESSION_IDLE_SECONDS must not exceed ADMIN_SESSION_MAX_SECONDS",
      ],
    ];
    for (const [source, expected] of cases) {
      const message = problem(source);
      expect(message).toStartWith(expected);
      expect(message).not.toContain(SECRET);
      expect(message).not.toContain("too-short-a-secret");
      expect(message).not.toContain(DATABASE_PASSWORD);
      expect(message).not.toContain("\n");
    }
  });

  test("development: http on loopback, and ADMIN_URL optional on a loopback HOST", () => {
    const env = loadAdminEnv({
      PROPGATE_ENV: "development",
      API_URL: "http://127.0.0.1:8080",
      ADMIN_OIDC_ISSUER: "http://127.0.0.1:9000",
      ADMIN_OIDC_CLIENT_ID: "propgate-admin",
      ADMIN_OIDC_CLIENT_SECRET_FILE: secretFile,
    });
    expect(env.ADMIN_URL).toBeNull();
    expect(env.allowInsecureLoopback).toBe(true);
    // Sessions in embedded PGlite (in memory here), sealed with a key of this process only.
    expect(env.DATABASE_URL).toBeNull();
    expect(env.sessionSecret).toBeNull();
    expect(
      problem({
        PROPGATE_ENV: "development",
        HOST: "0.0.0.0",
        API_URL: "http://127.0.0.1:8080",
        ADMIN_OIDC_ISSUER: "http://127.0.0.1:9000",
        ADMIN_OIDC_CLIENT_ID: "propgate-admin",
        ADMIN_OIDC_CLIENT_SECRET_FILE: secretFile,
      }),
    ).toStartWith("config: ADMIN_URL is missing");
  });

  test("PROMETHEUS_URL: unset is none (the overview says so); http(s) with a base path; no user, query or other scheme", () => {
    expect(loadAdminEnv(production).PROMETHEUS_URL).toBeNull();
    expect(
      loadAdminEnv({ ...production, PROMETHEUS_URL: "http://prometheus:9090" }).PROMETHEUS_URL
        ?.href,
    ).toBe("http://prometheus:9090/");
    expect(
      loadAdminEnv({ ...production, PROMETHEUS_URL: "https://monitoring.internal/prometheus" })
        .PROMETHEUS_URL?.pathname,
    ).toBe("/prometheus");
    for (const value of [
      "https://user:pass@monitoring.internal",
      "http://prometheus:9090/?x=1",
      "ftp://prometheus",
      "prometheus:9090",
    ]) {
      const said = problem({ ...production, PROMETHEUS_URL: value });
      expect(said).toStartWith("config: PROMETHEUS_URL");
      expect(said).not.toContain("pass");
    }
  });
});
