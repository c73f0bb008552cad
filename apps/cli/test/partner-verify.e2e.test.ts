import { describe, expect, test } from "bun:test";
import { runCli } from "./run-cli.ts";

/**
 * `propgate partner verify`: usage, configuration and a partner that is not there. The runs
 * against the partner simulator are in apps/dev/test/partner-verify.e2e.test.ts (only apps/dev may
 * start the simulator).
 */
const SECRET = `cli-verify-${crypto.randomUUID()}`;

function env(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    PROPGATE_ENV: "development",
    PARTNER_INTERCOM_BASE_URL: "http://127.0.0.1:9/",
    PARTNER_INTERCOM_TOKEN_URL: "http://127.0.0.1:9/oauth/token",
    PARTNER_INTERCOM_CLIENT_ID: "propgate",
    PARTNER_INTERCOM_CLIENT_SECRET: SECRET,
    PARTNER_INTERCOM_SUBJECT_KEY: "ab".repeat(32),
    PARTNER_INTERCOM_TIMEOUT_MS: "1000",
    ...overrides,
  };
}

async function verify(args: string[], overrides: Record<string, string> = {}) {
  const result = await runCli(["partner", "verify", ...args], { env: env(overrides) });
  expect(result.stdout + result.stderr).not.toContain(SECRET);
  return result;
}

describe("partner verify: usage and configuration", () => {
  test("--help lists every check and the exit codes", async () => {
    const { code, stdout } = await verify(["--help"]);
    expect(code).toBe(0);
    for (const check of [
      ...["discovery", "token:<scope>", "wrong-scope", "video.*", "keys.*", "keys.wrong-scope"],
      "retry-after",
      ...["subjects.erasure_status", "subjects.erasure_status.unknown", "--erasure-wait"],
      ...["events.<type>", "events.strict", "--surface"],
    ])
      expect(stdout).toContain(check);
    expect(stdout).toContain("2 bad usage or configuration");
  });

  test("bad usage exits 2 with a line saying what is wrong", async () => {
    const cases: Array<[string[], string]> = [
      [[], "name the partner: intercom or barrier"],
      [["elevator"], "unknown partner elevator"],
      [["intercom", "barrier"], "unexpected argument barrier"],
      [["intercom", "--frobnicate"], "Unknown option '--frobnicate'"],
      [["intercom", "--device"], "Option '--device <value>' argument missing"],
      [["intercom", "--device", "../etc"], "--device: not a partner id"],
      [["intercom", "--camera", "a b"], "--camera: not a partner id"],
      [["intercom", "--site", "site a"], "--site: not a partner id"],
      [["intercom", "--erasure-wait", "soon"], "--erasure-wait: whole seconds from 0 to 300"],
      [["intercom", "--erasure-wait", "1.5"], "--erasure-wait: whole seconds from 0 to 300"],
      [["intercom", "--erasure-wait", "301"], "--erasure-wait: whole seconds from 0 to 300"],
    ];
    for (const [args, message] of cases) {
      const { code, stdout, stderr } = await verify(args);
      expect({ args, code, stdout }).toEqual({ args, code: 2, stdout: "" });
      expect(stderr.split("\n")[0]).toContain(`partner verify: ${message}`);
    }
  });

  test("a missing or bad setting exits 2 naming the variable, never its value", async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ PARTNER_INTERCOM_BASE_URL: "" }, "PARTNER_INTERCOM_BASE_URL is missing"],
      [{ PARTNER_INTERCOM_SUBJECT_KEY: "" }, "PARTNER_INTERCOM_SUBJECT_KEY is missing"],
      [{ PARTNER_INTERCOM_CLIENT_SECRET_FILE: "/nonexistent" }, "PARTNER_INTERCOM_CLIENT_SECRET"],
      [{ PROPGATE_ENV: "production" }, "PARTNER_INTERCOM_BASE_URL is invalid"],
      [{ PARTNER_INTERCOM_TIMEOUT_MS: "5" }, "PARTNER_INTERCOM_TIMEOUT_MS is invalid"],
    ];
    for (const [overrides, message] of cases) {
      const { code, stderr } = await verify(["intercom"], overrides);
      expect({ overrides, code }).toEqual({ overrides, code: 2 });
      expect(stderr).toContain(message);
    }
  });

  test("--surface needs the surface client's id and secret, and a URL; exits 2 naming what is missing", async () => {
    const cases: Array<[string[], Record<string, string>, string]> = [
      [["--surface", "not a url"], {}, "--surface: not a URL"],
      [["--surface", "http://127.0.0.1:9"], {}, "PARTNER_SURFACE_CLIENT_ID is missing"],
      [
        ["--surface", "http://127.0.0.1:9"],
        { PARTNER_SURFACE_CLIENT_ID: "ic-verify" },
        "PARTNER_SURFACE_CLIENT_SECRET is missing",
      ],
    ];
    for (const [args, overrides, message] of cases) {
      const { code, stderr } = await verify(["intercom", ...args], overrides);
      expect({ args, code }).toEqual({ args, code: 2 });
      expect(stderr).toContain(message);
    }
  });

  test("in production it still takes an inline secret and subject key (a check run by hand, not a service)", async () => {
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const closed = `https://127.0.0.1:${server.port}`;
    await server.stop(true);
    const { code, stdout, stderr } = await verify(["intercom", "--json"], {
      PROPGATE_ENV: "production",
      PARTNER_INTERCOM_BASE_URL: `${closed}/`,
      PARTNER_INTERCOM_TOKEN_URL: `${closed}/oauth/token`,
    });
    expect(stderr).not.toContain("refused in production");
    expect(code).toBe(1); // checked, and failed: nothing answers there
    const report = JSON.parse(stdout) as { checks: Array<{ check: string; status: string }> };
    expect(report.checks[0]).toMatchObject({ check: "discovery", status: "fail" });
  });

  test("no database is needed, and a partner that is not there fails discovery within the timeout", async () => {
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const closed = `http://127.0.0.1:${server.port}`;
    await server.stop(true);
    const started = performance.now();
    const { code, stdout } = await verify(["intercom", "--json", "--device", "ic-1"], {
      PARTNER_INTERCOM_BASE_URL: `${closed}/`,
      PARTNER_INTERCOM_TOKEN_URL: `${closed}/oauth/token`,
    });
    expect(performance.now() - started).toBeLessThan(20_000);
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as {
      ok: boolean;
      checks: Array<{ check: string; status: string; detail: string }>;
    };
    expect(report.ok).toBe(false);
    expect(report.checks[0]).toEqual({
      check: "discovery",
      status: "fail",
      detail: `the token endpoint ${closed}/oauth/token did not answer (network)`,
    });
    expect(report.checks.find((row) => row.check === "intercom.open")).toMatchObject({
      status: "skip",
      detail: "no intercom.open token (see token:intercom.open)",
    });
  });
});
