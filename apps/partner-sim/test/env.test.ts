import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@propgate/config";
import { loadSimEnv } from "../src/env.ts";

const CLIENTS = JSON.stringify([
  { clientId: "door-app", clientSecret: "s3cret-value-xyz", scopes: ["intercom.open"] },
]);
const dir = mkdtempSync(join(tmpdir(), "partner-sim-env-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configErrorOf(env: Record<string, string>): ConfigError {
  try {
    loadSimEnv(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("loadSimEnv", () => {
  test("reads every variable", () => {
    expect(
      loadSimEnv({
        HOST: "127.0.0.2",
        PORT: "4010",
        ADMIN_PORT: "4011",
        SIM_NAME: "intercom",
        SIM_CLIENTS: CLIENTS,
        SIM_INTERCOMS: "door-1, door-2,,",
        SIM_BARRIERS: "gate-1",
        SIM_TOKEN_LIFETIME_SECONDS: "60",
        SIM_CAMERAS: "cam-1,cam-2",
        SIM_VIDEO_TTL_SECONDS: "30",
        SIM_DIALECT: "standard",
      }),
    ).toEqual({
      name: "intercom",
      hostname: "127.0.0.2",
      port: 4010,
      adminPort: 4011,
      clients: JSON.parse(CLIENTS),
      tokenLifetimeSeconds: 60,
      intercoms: ["door-1", "door-2"],
      barriers: ["gate-1"],
      cameras: ["cam-1", "cam-2"],
      videoSessionTtlSeconds: 30,
      dialect: "standard",
    });
  });

  test("defaults to loopback, random ports, no devices", () => {
    expect(loadSimEnv({ SIM_CLIENTS: CLIENTS })).toMatchObject({
      hostname: "127.0.0.1",
      port: 0,
      adminPort: 0,
      intercoms: [],
      barriers: [],
      cameras: [],
      tokenLifetimeSeconds: 300,
      videoSessionTtlSeconds: 300,
      dialect: "propgate",
    });
  });

  test("reads clients from SIM_CLIENTS_FILE", () => {
    const file = join(dir, "clients.json");
    writeFileSync(file, CLIENTS);
    expect(loadSimEnv({ SIM_CLIENTS_FILE: file }).clients).toEqual(JSON.parse(CLIENTS));
    expect(configErrorOf({ SIM_CLIENTS_FILE: join(dir, "missing.json") }).variable).toBe(
      "SIM_CLIENTS_FILE",
    );
  });

  test("names the bad variable and never its value", () => {
    const cases: [Record<string, string>, string][] = [
      [{}, "SIM_CLIENTS"],
      [{ SIM_CLIENTS: "[{not json s3cret-value-xyz" }, "SIM_CLIENTS"],
      [
        { SIM_CLIENTS: '[{"clientId":"a","clientSecret":"s3cret-value-xyz","scopes":["root"]}]' },
        "SIM_CLIENTS",
      ],
      [{ SIM_CLIENTS: CLIENTS, PORT: "http" }, "PORT"],
      [{ SIM_CLIENTS: CLIENTS, SIM_INTERCOMS: "door/1" }, "SIM_INTERCOMS"],
      [{ SIM_CLIENTS: CLIENTS, SIM_TOKEN_LIFETIME_SECONDS: "0" }, "SIM_TOKEN_LIFETIME_SECONDS"],
      [{ SIM_CLIENTS: CLIENTS, SIM_CAMERAS: "cam 1" }, "SIM_CAMERAS"],
      [{ SIM_CLIENTS: CLIENTS, SIM_VIDEO_TTL_SECONDS: "0" }, "SIM_VIDEO_TTL_SECONDS"],
      [{ SIM_CLIENTS: CLIENTS, SIM_NAME: "Intercom!" }, "SIM_NAME"],
    ];
    for (const [env, variable] of cases) {
      const error = configErrorOf(env);
      expect(error.variable).toBe(variable);
      expect(error.message).toContain(variable);
      expect(error.message).not.toContain("s3cret-value-xyz");
      expect(error.message).not.toContain("\n");
    }
  });
});

describe("main.ts", () => {
  test("a bad variable stops startup with one line naming it", async () => {
    const child = Bun.spawn([process.execPath, "src/main.ts"], {
      cwd: join(import.meta.dir, ".."),
      env: { SIM_CLIENTS: "[oops s3cret-value-xyz" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, stdout, stderr] = await Promise.all([
      child.exited,
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
    ]);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    const lines = stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("SIM_CLIENTS");
    expect(stderr).not.toContain("s3cret-value-xyz");
  });

  test("starts, prints its URLs and serves until SIGTERM", async () => {
    const child = Bun.spawn([process.execPath, "src/main.ts"], {
      cwd: join(import.meta.dir, ".."),
      env: { SIM_CLIENTS: CLIENTS, SIM_NAME: "intercom" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const reader = child.stdout.getReader();
    let output = "";
    const deadline = Date.now() + 5000;
    while (!/admin http:\/\/\S+/.test(output) && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      output += new TextDecoder().decode(value);
    }
    const api = /api (http:\/\/\S+)/.exec(output)?.[1];
    expect(api).toBeDefined();
    const metadata = await fetch(`${api}/.well-known/oauth-authorization-server`);
    expect(await metadata.json()).toMatchObject({ issuer: api });
    expect(output).not.toContain("s3cret-value-xyz");
    child.kill("SIGTERM");
    expect(await child.exited).toBe(0);
  });
});
