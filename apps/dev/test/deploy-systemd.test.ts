import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ApiEnv } from "@propgate/server";
import { HEAP_GROWTH_FACTOR } from "../src/runtime-settings.ts";
import {
  checkProgramEnv,
  HEAP_HEADROOM_BYTES,
  looksSecret,
  parseEnvText,
  programOf,
  removeTestMaterial,
} from "./deploy-env.ts";

/**
 * infra/systemd as systemd reads it: `systemd-analyze verify` over every unit and
 * `systemd-analyze security --offline=yes` for every service (in a throwaway root holding the
 * units, the distribution's own units they depend on and stand-ins for the binaries), then the
 * kit's rules — credentials for every *_FILE, stop timeout against SHUTDOWN_GRACE_MS, heap
 * budget against MemoryMax — with each service's environment run through its program's loader.
 */
const DIR = join(import.meta.dir, "../../../infra/systemd");
const UNITS = readdirSync(DIR).filter((f) => /\.(service|timer)$/.test(f));
const SERVICES = UNITS.filter((f) => f.endsWith(".service"));
/** The api's instances as the README enables them; the instance is the port. */
const API_INSTANCES = ["8081", "8082"];
const SYSTEM_UNITS = ["/usr/lib/systemd/system", "/lib/systemd/system"].find((d) =>
  existsSync(join(d, "sysinit.target")),
);
/** The api's exposure goal (systemd-analyze security: 0 safe … 10 exposed). */
const API_EXPOSURE_GOAL = 2.0;

function missingSystemd(): string | null {
  if (!Bun.which("systemd-analyze")) return "systemd-analyze is not installed (Debian: systemd)";
  if (!SYSTEM_UNITS) return "the distribution's units (sysinit.target …) are not installed";
  return null;
}
const missing = missingSystemd();
if (missing) {
  if (process.env.CI) throw new Error(`deploy-systemd: ${missing} (needed in CI)`);
  console.warn(`[skip] systemd units: ${missing}`);
}

interface Unit {
  /** Each key's values, in order (Environment= and LoadCredential= repeat). */
  get(key: string): string[];
}

/** A unit file's [Unit]/[Service]/[Timer] settings, with %i, %H and %d expanded. */
function readUnit(file: string, instance = ""): Unit {
  const name = file.replace("@.", `@${instance}.`);
  const values = new Map<string, string[]>();
  for (const raw of readFileSync(join(DIR, file), "utf8").split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith("[")) continue;
    const at = line.indexOf("=");
    const key = line.slice(0, at);
    const value = line
      .slice(at + 1)
      .replaceAll("%i", instance)
      .replaceAll("%H", "host-1")
      .replaceAll("%d", `/run/credentials/${name}`);
    values.set(key, [...(values.get(key) ?? []), value]);
  }
  return { get: (key) => values.get(key) ?? [] };
}

/** The environment systemd gives the service: its EnvironmentFile= examples, then Environment=. */
function unitEnv(unit: Unit): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of unit.get("EnvironmentFile")) {
    const optional = entry.startsWith("-");
    const example = join(DIR, "env", entry.replace(/^-/, "").replace("/etc/propgate/", ""));
    if (!existsSync(example)) {
      if (optional) continue;
      throw new Error(`no example in infra/systemd/env for ${entry}`);
    }
    Object.assign(env, parseEnvText(readFileSync(example, "utf8")));
  }
  for (const line of unit.get("Environment")) {
    for (const assignment of line.split(/\s+/)) {
      const at = assignment.indexOf("=");
      env[assignment.slice(0, at)] = assignment.slice(at + 1);
    }
  }
  return env;
}

/** The image's one binary, installed on the VM; its first argument names the program. */
const BINARY = "/opt/propgate/bin/propgate";

function programArgs(unit: Unit): string[] {
  const [binary, ...args] = (unit.get("ExecStart")[0] ?? "").split(/\s+/);
  if (binary !== BINARY) throw new Error(`ExecStart is not ${BINARY}: ${binary}`);
  return args;
}

/** Each service as it runs: the api once per instance. */
const running = SERVICES.flatMap((file) =>
  file.includes("@")
    ? API_INSTANCES.map((port) => ({
        name: file.replace("@.", `@${port}.`),
        unit: readUnit(file, port),
      }))
    : [{ name: file, unit: readUnit(file) }],
);

let root = "";
beforeAll(() => {
  if (missing || !SYSTEM_UNITS) return;
  root = mkdtempSync(join(tmpdir(), "propgate-systemd-"));
  cpSync(SYSTEM_UNITS, join(root, "usr/lib/systemd/system"), { recursive: true });
  mkdirSync(join(root, "etc/systemd/system"), { recursive: true });
  for (const file of UNITS) cpSync(join(DIR, file), join(root, "etc/systemd/system", file));
  mkdirSync(join(root, "opt/propgate/bin"), { recursive: true });
  writeFileSync(join(root, BINARY), "#!/bin/sh\n");
  chmodSync(join(root, BINARY), 0o755);
});
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
  removeTestMaterial();
});

function analyze(...args: string[]) {
  const run = Bun.spawnSync(["systemd-analyze", ...args, `--root=${root}`], {
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: run.exitCode, out: run.stdout.toString(), err: run.stderr.toString().trim() };
}

describe("systemd kit (infra/systemd)", () => {
  test.skipIf(missing !== null)(
    "systemd-analyze verify accepts every unit, without a warning",
    () => {
      const names = [
        ...UNITS.filter((f) => !f.includes("@")),
        ...API_INSTANCES.map((port) => `propgate-api@${port}.service`),
      ];
      for (const name of names) {
        const { code, err } = analyze("verify", name);
        expect({ name, code, err }).toEqual({ name, code: 0, err: "" });
      }
    },
  );

  test.skipIf(missing !== null)(
    `systemd-analyze security --offline=yes: the api's exposure is at most ${API_EXPOSURE_GOAL}`,
    () => {
      const scores: Record<string, number> = {};
      for (const { name } of running) {
        const { code, out } = analyze("security", "--offline=yes", name);
        expect(code).toBe(0);
        const score = /Overall exposure level for \S+: ([\d.]+)/.exec(out)?.[1];
        scores[name] = Number(score);
      }
      console.log(`[systemd] exposure: ${JSON.stringify(scores)}`);
      for (const port of API_INSTANCES)
        expect(scores[`propgate-api@${port}.service`]).toBeLessThanOrEqual(API_EXPOSURE_GOAL);
      // The probe holds CAP_NET_ADMIN for `wg`; security-check runs as root to read every file.
      for (const [name, score] of Object.entries(scores))
        expect({ name, ok: score <= 2.5 }).toEqual({ name, ok: true });
    },
  );

  test("every timer starts its service; every service but security-check runs as a dynamic user", () => {
    for (const timer of UNITS.filter((f) => f.endsWith(".timer")))
      expect(SERVICES).toContain(timer.replace(".timer", ".service"));
    for (const { name, unit } of running) {
      const expected = name === "propgate-security-check.service" ? [] : ["yes"];
      expect({ name, dynamicUser: unit.get("DynamicUser") }).toEqual({
        name,
        dynamicUser: expected,
      });
      expect({ name, noNewPrivileges: unit.get("NoNewPrivileges") }).toEqual({
        name,
        noNewPrivileges: ["yes"],
      });
      expect({ name, protectSystem: unit.get("ProtectSystem") }).toEqual({
        name,
        protectSystem: ["strict"],
      });
    }
    expect(readUnit("propgate-migrate.service").get("Type")).toEqual(["oneshot"]);
    expect(readUnit("propgate-api@.service", "8081").get("CapabilityBoundingSet")).toEqual([""]);
  });

  test("secrets are credentials: each *_FILE is a LoadCredential= from /etc/propgate/credentials", () => {
    for (const { name, unit } of running) {
      const credentials = new Map(
        unit.get("LoadCredential").map((entry) => {
          const [id, source] = entry.split(":");
          return [id, source ?? ""] as const;
        }),
      );
      for (const source of credentials.values())
        expect(source).toMatch(/^\/etc\/propgate\/credentials\/[\w.-]+$/);
      for (const [variable, value] of Object.entries(unitEnv(unit))) {
        const where = `${name} ${variable}`;
        if (variable.endsWith("_FILE")) {
          const id = value.slice(`/run/credentials/${name}/`.length);
          expect({
            where,
            inCredentials: value.startsWith(`/run/credentials/${name}/`),
            loaded: credentials.has(id),
          }).toEqual({
            where,
            inCredentials: true,
            loaded: true,
          });
        } else
          expect({ where, secret: looksSecret(variable, value) }).toEqual({ where, secret: null });
      }
    }
  });

  test("api instances: their own port and metrics port; stop timeout above SHUTDOWN_GRACE_MS", () => {
    const listeners = new Set<string>();
    for (const port of API_INSTANCES) {
      const unit = readUnit("propgate-api@.service", port);
      const verdict = checkProgramEnv("api", unitEnv(unit));
      expect(verdict.error).toBeNull();
      const env = verdict.loaded as ApiEnv;
      expect(env.PORT).toBe(Number(port));
      listeners.add(`${env.HOST}:${env.PORT}`);
      listeners.add(`${env.metricsListen?.hostname}:${env.metricsListen?.port}`);
      const stopSeconds = Number(/^(\d+)s$/.exec(unit.get("TimeoutStopSec")[0] ?? "")?.[1]);
      expect(stopSeconds * 1000 - env.SHUTDOWN_GRACE_MS).toBeGreaterThanOrEqual(5000);
      expect(env.shutdownDrainMs).toBeGreaterThanOrEqual(2000);
      expect(env.shutdownDrainMs).toBeLessThanOrEqual(env.SHUTDOWN_GRACE_MS / 2);
    }
    expect(listeners.size).toBe(API_INSTANCES.length * 2);
  });

  test("every service has MemoryMax, BUN_JSC_forceRAMSize = MemoryMax less 256 MiB, and the image's heap growth", () => {
    for (const { name, unit } of running) {
      const limit = /^(\d+)M$/.exec(unit.get("MemoryMax")[0] ?? "")?.[1];
      const env = unitEnv(unit);
      expect({
        name,
        budget: Number(env.BUN_JSC_forceRAMSize),
        growth: env.BUN_JSC_smallHeapGrowthFactor,
      }).toEqual({
        name,
        budget: Number(limit) * 1024 ** 2 - HEAP_HEADROOM_BYTES,
        growth: HEAP_GROWTH_FACTOR,
      });
    }
  });

  test("every variable a unit sets is read by its program, and each program starts with it", () => {
    for (const { name, unit } of running) {
      const program = programOf(programArgs(unit));
      const { error, unread } = checkProgramEnv(program, unitEnv(unit));
      expect({ name, program, error, unread }).toEqual({ name, program, error: null, unread: [] });
    }
  });
});
