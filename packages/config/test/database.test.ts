import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ConfigError,
  databasePassword,
  databaseSettings,
  databaseUrlPasswordWarning,
} from "../src/index.ts";

const dir = mkdtempSync(join(tmpdir(), "propgate-config-db-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PASSWORD = "pw-that-must-never-be-printed";
const URL_WITHOUT = "postgres://propgate_api@db.internal:5432/propgate?sslmode=verify-full";

function passwordFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

function problem(env: Record<string, string | undefined>): string {
  try {
    databasePassword(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).not.toContain(PASSWORD);
    return message;
  }
  throw new Error("expected a ConfigError");
}

describe("DATABASE_PASSWORD_FILE", () => {
  test("unset: no password of ours (DATABASE_URL's own, if any, is used)", () => {
    expect(databasePassword({ DATABASE_URL: URL_WITHOUT })).toBeUndefined();
    expect(databasePassword({ DATABASE_URL: URL_WITHOUT, DATABASE_PASSWORD_FILE: "" })).toBe(
      undefined,
    );
  });

  test("read from the file, the trailing line break dropped (echo and editors add one)", () => {
    for (const [name, text] of [
      ["plain", PASSWORD],
      ["newline", `${PASSWORD}\n`],
      ["crlf", `${PASSWORD}\r\n`],
    ] as const) {
      const env = { DATABASE_URL: URL_WITHOUT, DATABASE_PASSWORD_FILE: passwordFile(name, text) };
      expect(databasePassword(env)).toBe(PASSWORD);
    }
    // Spaces are the password's own.
    const spaced = passwordFile("spaced", ` ${PASSWORD} \n`);
    expect(databasePassword({ DATABASE_URL: URL_WITHOUT, DATABASE_PASSWORD_FILE: spaced })).toBe(
      ` ${PASSWORD} `,
    );
  });

  test("with a password in DATABASE_URL too: refused, naming both, whatever the URL's shape", () => {
    const file = passwordFile("both", PASSWORD);
    for (const url of [
      `postgres://propgate_api:${PASSWORD}@db.internal:5432/propgate`,
      `postgresql://propgate_api:${PASSWORD}@db1:5432,db2:5432/propgate?sslmode=verify-full`,
    ]) {
      expect(problem({ DATABASE_URL: url, DATABASE_PASSWORD_FILE: file })).toBe(
        "config: DATABASE_PASSWORD_FILE is set and DATABASE_URL holds a password too: remove the password from DATABASE_URL",
      );
    }
    // A user with an empty password part is no password.
    expect(
      databasePassword({
        DATABASE_URL: "postgres://propgate_api:@db.internal/propgate",
        DATABASE_PASSWORD_FILE: file,
      }),
    ).toBe(PASSWORD);
  });

  test("without DATABASE_URL, unreadable or empty: refused, naming the variable", () => {
    const file = passwordFile("lonely", PASSWORD);
    expect(problem({ DATABASE_PASSWORD_FILE: file, DATA_DIR: "/tmp/x" })).toBe(
      "config: DATABASE_PASSWORD_FILE is set but DATABASE_URL is not: the password would not be used",
    );
    expect(
      problem({ DATABASE_URL: URL_WITHOUT, DATABASE_PASSWORD_FILE: join(dir, "absent") }),
    ).toBe("config: DATABASE_PASSWORD_FILE points at a file that cannot be read");
    expect(
      problem({ DATABASE_URL: URL_WITHOUT, DATABASE_PASSWORD_FILE: passwordFile("empty", "\n") }),
    ).toBe("config: DATABASE_PASSWORD_FILE points at an empty file");
  });
});

describe("a password inline in DATABASE_URL", () => {
  test("is warned about, naming DATABASE_PASSWORD_FILE; a URL without one is not", () => {
    const warning = databaseUrlPasswordWarning({
      DATABASE_URL: `postgres://propgate_api:${PASSWORD}@db.internal/propgate`,
    });
    expect(warning).toContain("DATABASE_PASSWORD_FILE");
    expect(warning).not.toContain(PASSWORD);
    expect(databaseUrlPasswordWarning({ DATABASE_URL: URL_WITHOUT })).toBeNull();
    expect(databaseUrlPasswordWarning({})).toBeNull();
  });
});

describe("databaseSettings", () => {
  test("the password file read, no CA asked for; the inline-password warning in production only", () => {
    const inline = `postgres://propgate_api:${PASSWORD}@db.internal/propgate`;
    expect(databaseSettings({ DATABASE_URL: inline }, { production: false })).toEqual({
      databaseCa: undefined,
      databasePassword: undefined,
      inlineDatabasePasswordWarning: null,
    });
    const warned = databaseSettings({ DATABASE_URL: inline }, { production: true });
    expect(warned.inlineDatabasePasswordWarning).toContain("DATABASE_PASSWORD_FILE");
    const env = {
      DATABASE_URL: URL_WITHOUT,
      DATABASE_PASSWORD_FILE: passwordFile("settings", `${PASSWORD}\n`),
    };
    expect(databaseSettings(env, { production: true })).toEqual({
      databaseCa: undefined,
      databasePassword: PASSWORD,
      inlineDatabasePasswordWarning: null,
    });
  });
});
