import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ApiEnv } from "@propgate/server";
import { Ajv } from "ajv";
import draft07 from "ajv/dist/refs/json-schema-draft-07.json" with { type: "json" };
import {
  checkProgramEnv,
  HEAP_HEADROOM_BYTES,
  looksSecret,
  programOf,
  removeTestMaterial,
} from "./deploy-env.ts";

/**
 * infra/compose: the Compose Specification's own JSON schema (vendored under schema/), the
 * order of start (roles, migrate once, grants, then the api), the api's shutdown against
 * HAProxy's checks and the stop grace, secrets as files, and every Propgate service's
 * environment run through its program's own env loader. HAProxy's config is checked by
 * Debian's haproxy.
 */
const DIR = join(import.meta.dir, "../../../infra/compose");
const text = readFileSync(join(DIR, "compose.yaml"), "utf8");
// biome-ignore lint/suspicious/noExplicitAny: the compose file is untyped YAML, read field by field
const compose = Bun.YAML.parse(text) as any;
// biome-ignore lint/suspicious/noExplicitAny: as above
const services = compose.services as Record<string, any>;
const propgate = Object.entries(services).filter(([, s]) => s.image === "propgate:latest");

const HAPROXY = "/usr/sbin/haproxy";
const hasHaproxy = Bun.which("haproxy") !== null;
if (!hasHaproxy) {
  if (process.env.CI)
    throw new Error(`${HAPROXY} is missing in CI: run scripts/install-system-tools.sh`);
  console.warn("[skip] haproxy -c: haproxy is not installed (Debian package haproxy)");
}

afterAll(removeTestMaterial);

/** Seconds of a compose duration (`20s`, `1m30s`). */
function durationSeconds(value: string): number {
  let total = 0;
  for (const [, amount, unit] of value.matchAll(/(\d+)(h|m|s)/g))
    total += Number(amount) * (unit === "h" ? 3600 : unit === "m" ? 60 : 1);
  return total;
}

/** Bytes of a compose byte value (`768m` is MiB, as Docker reads it). */
function composeBytes(value: string): number {
  const match = /^(\d+)([kmg])?b?$/i.exec(value);
  if (!match) throw new Error(`not a byte value: ${value}`);
  const unit = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2]?.toLowerCase() as "k"] ?? 1;
  return Number(match[1]) * unit;
}

const env = (service: string): Record<string, string> => services[service]?.environment ?? {};

describe("compose kit (infra/compose)", () => {
  test("compose.yaml validates against the Compose Specification's JSON schema", () => {
    const schema = JSON.parse(readFileSync(join(DIR, "schema/compose-spec.json"), "utf8"));
    // The schema names draft-07 by its https id; Ajv knows the same meta-schema by the http one.
    const ajv = new Ajv({ allErrors: true, strict: false });
    ajv.addMetaSchema({ ...draft07, $id: "https://json-schema.org/draft-07/schema" });
    const validate = ajv.compile(schema);
    const ok = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    // The validator is live: a misspelt key is refused.
    const broken = structuredClone(compose);
    broken.services.migrate.depends_on.db_roles = { condition: "service_completed_succesfully" };
    expect(validate(broken)).toBe(false);
  });

  test("start order: roles, the migrations once, grants, then two api instances", () => {
    const after = (service: string, dependency: string) =>
      services[service].depends_on?.[dependency]?.condition;
    expect(services.migrate.command).toEqual(["migrate"]);
    expect(services.migrate.restart).toBe("no");
    expect(after("migrate", "db-roles")).toBe("service_completed_successfully");
    expect(after("db-grants", "migrate")).toBe("service_completed_successfully");
    expect(after("db-roles", "postgres")).toBe("service_healthy");
    const apis = propgate.filter(([, s]) => s.command[0] === "api").map(([name]) => name);
    expect(apis).toEqual(["api-1", "api-2"]);
    for (const name of [...apis, "health-probe"]) {
      expect(after(name, "db-grants")).toBe("service_completed_successfully");
    }
    expect(services.postgres.healthcheck.test).toContain("pg_isready");
    expect(services.redis.healthcheck.test).toContain("ping");
    expect(new Set(apis.map((name) => env(name).INSTANCE_ID)).size).toBe(2);
  });

  test("HAProxy checks /readyz on both api instances, faster than their drain; stop_grace_period above the grace", async () => {
    const cfg = readFileSync(join(DIR, "haproxy.cfg"), "utf8");
    const backend = /^backend api\n((?:[ \t].*\n|\n)*)/m.exec(cfg)?.[1] ?? "";
    expect(backend).toContain("http-check send meth GET uri /readyz");
    expect(backend).toContain("option httpchk");
    const servers = [...backend.matchAll(/^\s+server (\S+) (\S+):(\d+)/gm)].map(
      (m) => `${m[2]}:${m[3]}`,
    );
    expect(servers).toEqual(["api-1:8080", "api-2:8080"]);
    const inter = Number(/inter (\d+)s/.exec(backend)?.[1]);
    const fall = Number(/fall (\d+)/.exec(backend)?.[1]);
    for (const name of ["api-1", "api-2"]) {
      const verdict = checkProgramEnv("api", env(name));
      expect(verdict.error).toBeNull();
      const api = verdict.loaded as ApiEnv;
      // HAProxy has taken the instance out before its drain ends and the listener closes.
      expect(inter * fall * 1000).toBeLessThan(api.shutdownDrainMs);
      expect(api.shutdownDrainMs).toBeLessThanOrEqual(api.SHUTDOWN_GRACE_MS / 2);
      expect(
        durationSeconds(services[name].stop_grace_period) * 1000 - api.SHUTDOWN_GRACE_MS,
      ).toBeGreaterThanOrEqual(5000);
      // X-Forwarded-For is believed from HAProxy's fixed address only.
      expect(env(name).TRUST_PROXY_CIDRS).toBe(
        `${services.haproxy.networks.propgate.ipv4_address}/32`,
      );
    }
    expect(cfg).toContain("option forwardfor");
  });

  test.skipIf(!hasHaproxy)("Debian's haproxy accepts haproxy.cfg", () => {
    const run = Bun.spawnSync(["haproxy", "-c", "-f", join(DIR, "haproxy.cfg")], {
      stderr: "pipe",
      stdout: "pipe",
    });
    const output = `${run.stdout}${run.stderr}`;
    expect(output).toContain("Configuration file is valid");
    expect(run.exitCode).toBe(0);
    // The only warnings: compose's service names, which resolve inside its network alone.
    const warnings = output.split("\n").filter((line) => line.includes("[WARNING]"));
    for (const warning of warnings)
      expect(warning).toMatch(/could not resolve address '(api-1|api-2|admin)'/);
  });

  test("every Propgate container: non-root, read-only, no capabilities, no privilege escalation, a heap budget of its memory limit", () => {
    for (const [name, service] of propgate) {
      const hardening = {
        user: service.user,
        read_only: service.read_only,
        cap_drop: service.cap_drop,
        security_opt: service.security_opt,
        budget: Number(service.environment.BUN_JSC_forceRAMSize),
      };
      expect({ name, hardening }).toEqual({
        name,
        hardening: {
          user: "65532:65532",
          read_only: true,
          cap_drop: ["ALL"],
          security_opt: ["no-new-privileges:true"],
          budget: composeBytes(service.mem_limit) - HEAP_HEADROOM_BYTES,
        },
      });
    }
  });

  test("secrets are files: each *_FILE is a secret of its service; nothing secret inline", () => {
    for (const [name, service] of propgate) {
      const granted = new Set<string>(service.secrets ?? []);
      for (const [variable, value] of Object.entries(
        service.environment as Record<string, string>,
      )) {
        const where = `${name} ${variable}`;
        if (variable.endsWith("_FILE")) {
          const secret = /^\/run\/secrets\/([a-z0-9-]+)$/.exec(value)?.[1] ?? "";
          expect({
            where,
            granted: granted.has(secret),
            declared: Boolean(compose.secrets[secret]?.file),
          }).toEqual({
            where,
            granted: true,
            declared: true,
          });
        } else
          expect({ where, secret: looksSecret(variable, String(value)) }).toEqual({
            where,
            secret: null,
          });
      }
    }
    // Secret files live outside the repository's tracked files.
    for (const secret of Object.values(compose.secrets) as { file: string }[])
      expect(secret.file).toMatch(/^\.\/secrets\//);
  });

  test("every variable a service sets is read by its program, and each program starts with it", () => {
    for (const [name, service] of propgate) {
      const program = programOf(service.command);
      const { error, unread } = checkProgramEnv(program, env(name));
      expect({ name, program, error, unread }).toEqual({ name, program, error: null, unread: [] });
    }
  });

  test("the partner surface is published on the VPN address only; metrics on loopback only", () => {
    for (const [name, service] of propgate) {
      for (const port of (service.ports ?? []) as string[]) {
        const [host] = port.split(/:(?=\d+:\d+$)/);
        const target = Number(port.split(":").at(-1));
        const where = `${name} ${port}`;
        if (target === 8443)
          expect({ where, host }).toEqual({
            where,
            host: expect.stringMatching(/^\$\{PROPGATE_VPN_ADDRESS:-10\.80\.0\.1\}$/),
          });
        else expect({ where, host }).toEqual({ where, host: "127.0.0.1" });
      }
    }
    expect(env("api-1").PARTNER_ALLOWED_CIDRS).toBe("10.80.0.0/24");
  });
});
