import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { loadAdminEnv } from "@propgate/admin";
import { loadCliEnv, loadPartnerEnv, loadRetentionEnv } from "@propgate/cli/env";
import { ConfigError, type EnvSource, envRows, undocumentedVariables } from "@propgate/config";
import { generateAuditSigningKey, loadMigrateEnv } from "@propgate/consent-audit";
import { PARTNERS } from "@propgate/domain";
import { loadProbeEnv } from "@propgate/health-probe";
import { loadApiEnv } from "@propgate/server";
import { z } from "zod";
import { CONFIGURATION_FILE, configurationReference, PROGRAMS } from "../src/configuration.ts";

const ROOT = join(import.meta.dir, "../../..");
const dir = mkdtempSync(join(tmpdir(), "propgate-configuration-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The first line where the committed reference and the generated one part, or null. */
function drift(committed: string, generated: string): string | null {
  if (committed === generated) return null;
  const [was, now] = [committed.split("\n"), generated.split("\n")];
  let line = 0;
  while (was[line] === now[line]) line++;
  return (
    `docs/configuration.md is stale from line ${line + 1} (committed ${JSON.stringify(was[line])}, ` +
    `generated ${JSON.stringify(now[line])}): run \`bun run config-docs\` and commit the result`
  );
}

/** The variables a program's tables list, partner ones as `PARTNER_<P>_*`. */
function documented(title: string): string[] {
  const program = PROGRAMS.find((candidate) => candidate.title.startsWith(title));
  if (!program) throw new Error(`no program ${title}`);
  return program.tables.flatMap((table) => Object.keys(table.schema.shape)).sort();
}

/**
 * The variables `load` looks at in `env`, partner ones as `PARTNER_<P>_*`: every read goes
 * through the proxy, whether by a schema or by hand.
 */
function variablesRead(env: EnvSource, ...loads: Array<(source: EnvSource) => unknown>): string[] {
  const reads = new Set<string>();
  const partnerPrefix = new RegExp(`^PARTNER_(${PARTNERS.join("|").toUpperCase()})_`);
  const source = new Proxy(env, {
    get(target, key) {
      if (typeof key === "string") reads.add(key.replace(partnerPrefix, "PARTNER_<P>_"));
      return typeof key === "string" ? target[key] : undefined;
    },
  });
  for (const load of loads) load(source);
  return [...reads].sort();
}

/** Partner settings every program accepts: inline secrets outside production, files in it. */
function partners(production = false): Record<string, string> {
  const env: Record<string, string> = {};
  for (const partner of PARTNERS) {
    const p = `PARTNER_${partner.toUpperCase()}_`;
    env[`${p}BASE_URL`] = `https://${partner}.partner.example`;
    env[`${p}ISSUER`] = `https://${partner}.partner.example`;
    env[`${p}CLIENT_ID`] = "propgate";
    if (production) {
      env[`${p}CLIENT_SECRET_FILE`] = file("partner-secret", "client-secret-of-the-test\n");
      env[`${p}SUBJECT_KEY_FILE`] = file("subject-key", `${"ab".repeat(32)}\n`);
    } else {
      env[`${p}CLIENT_SECRET`] = "client-secret-of-the-test";
      env[`${p}SUBJECT_KEY`] = "ab".repeat(32);
    }
  }
  return env;
}

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}

const DATABASE_URL = "postgres://propgate@db.internal:5432/propgate";

/**
 * Each program's loaders, with settings it starts with outside production and in it (its
 * default). Reading them connects to nothing.
 */
const LOADERS: Array<{
  title: string;
  load: (source: EnvSource) => unknown;
  development: () => EnvSource;
  production: () => EnvSource;
}> = [
  {
    title: "api",
    load: loadApiEnv,
    development: () => ({
      PROPGATE_ENV: "development",
      DATA_DIR: join(dir, "pglite"),
      AUTH_ISSUER: "https://id.example",
      AUTH_AUDIENCE: "propgate-api",
      AUTH_JWKS_URL: "https://id.example/jwks.json",
      ...partners(),
    }),
    production: () => ({
      DATABASE_URL,
      AUTH_ISSUER: "https://id.example",
      AUTH_AUDIENCE: "propgate-api",
      AUTH_JWKS_URL: "https://id.example/jwks.json",
      AUDIT_SIGNING_KEY_FILE: file("audit-signing-key.pem", generateAuditSigningKey()),
      ...partners(true),
    }),
  },
  {
    title: "admin app",
    load: loadAdminEnv,
    development: () => ({
      PROPGATE_ENV: "development",
      API_URL: "http://127.0.0.1:8080",
      ADMIN_OIDC_ISSUER: "http://127.0.0.1:9000",
      ADMIN_OIDC_CLIENT_ID: "propgate-admin",
      ADMIN_OIDC_CLIENT_SECRET_FILE: file("admin-secret", "admin-client-secret\n"),
    }),
    production: () => ({
      API_URL: "https://api.internal",
      ADMIN_URL: "https://admin.example.com",
      ADMIN_OIDC_ISSUER: "https://login.example.com",
      ADMIN_OIDC_CLIENT_ID: "propgate-admin",
      ADMIN_OIDC_CLIENT_SECRET_FILE: file("admin-secret", "admin-client-secret\n"),
      ADMIN_SESSION_SECRET_FILE: file("admin-session-secret", "s".repeat(44)),
      DATABASE_URL: "postgres://propgate_admin_app@db.internal:5432/propgate",
    }),
  },
  {
    title: "health probe",
    load: loadProbeEnv,
    development: () => ({
      PROPGATE_ENV: "development",
      DATA_DIR: join(dir, "probe"),
      ...partners(),
    }),
    production: () => ({ DATABASE_URL, ...partners(true) }),
  },
  {
    title: "operator CLI",
    load: (source) => [
      loadCliEnv(source),
      loadPartnerEnv(PARTNERS[0], source),
      loadRetentionEnv(source),
    ],
    development: () => ({ PROPGATE_ENV: "development", DATA_DIR: join(dir, "cli"), ...partners() }),
    production: () => ({ DATABASE_URL, ...partners(true) }),
  },
  {
    title: "migrate",
    load: loadMigrateEnv,
    development: () => ({ DATABASE_URL }),
    production: () => ({ DATABASE_URL }),
  },
];

/** The variable a loader refuses the settings for; null when it takes them. */
function refused(load: (source: EnvSource) => unknown, env: EnvSource): string | null {
  try {
    load(env);
    return null;
  } catch (error) {
    if (error instanceof ConfigError) return error.variable;
    throw error;
  }
}

describe("docs/configuration.md", () => {
  test("is what `bun run config-docs` writes now from the env schemas", async () => {
    const committed = await Bun.file(CONFIGURATION_FILE).text();
    expect(drift(committed, configurationReference())).toBeNull();
  });

  test("every variable of every program's env schemas has a description", () => {
    for (const program of PROGRAMS) {
      for (const table of program.tables) {
        const missing = undocumentedVariables(table.schema);
        expect({ program: program.title, missing }).toEqual({
          program: program.title,
          missing: [],
        });
      }
    }
  });

  test("a variable added to an env schema without a description fails; with one, the committed file is stale", async () => {
    const [api, ...rest] = PROGRAMS;
    if (!api) throw new Error("no programs");
    const [own, ...others] = api.tables;
    if (!own) throw new Error("the api has no table");
    const withVariable = (field: z.ZodType) => [
      { ...api, tables: [{ schema: own.schema.extend({ NEW_SETTING: field }) }, ...others] },
      ...rest,
    ];
    expect(() => configurationReference(withVariable(z.string().optional()))).toThrow(
      "NEW_SETTING: no description; end the field with .meta({ description })",
    );
    // A description that does not come last (a wrapper added after it) does not count either.
    expect(() =>
      configurationReference(withVariable(z.string().meta({ description: "lost" }).optional())),
    ).toThrow("NEW_SETTING: no description");
    const committed = await Bun.file(CONFIGURATION_FILE).text();
    const generated = configurationReference(
      withVariable(z.string().optional().meta({ description: "a new setting" })),
    );
    expect(generated).toMatch(/^\| `NEW_SETTING` +\| – +\| – +\| a new setting +\|$/m);
    expect(drift(committed, generated)).toStartWith("docs/configuration.md is stale from line ");
  });

  test("a partner variable shows once, as PARTNER_<P>_*", async () => {
    const committed = await Bun.file(CONFIGURATION_FILE).text();
    expect(committed).toMatch(/^\| `PARTNER_<P>_CLIENT_SECRET_FILE` +\|/m);
    for (const partner of PARTNERS)
      expect(committed).not.toContain(`PARTNER_${partner.toUpperCase()}_`);
  });

  test("the table rows carry the production rules of the schemas", () => {
    const rows = PROGRAMS.flatMap((program) =>
      program.tables.flatMap((table) => envRows(table.schema)),
    );
    const row = (variable: string) => rows.find((candidate) => candidate.variable === variable);
    expect(row("AUDIT_SIGNING_KEY_FILE")?.production).toBe("required");
    expect(row("AUTH_JWKS_URL")).toMatchObject({
      default: "required",
      production: "must be https",
    });
    expect(row("PORT")?.default).toBe("`8080`");
    expect(row("PARTNER_<P>_CLIENT_SECRET")?.production).toStartWith("refused inline");
  });
});

describe("each program reads exactly the variables its table lists", () => {
  for (const { title, load, development, production } of LOADERS) {
    test(`${title}, outside production and in it`, () => {
      expect(refused(load, development())).toBeNull();
      expect(refused(load, production())).toBeNull();
      expect(variablesRead(development(), load)).toEqual(documented(title));
      expect(variablesRead(production(), load)).toEqual(documented(title));
    });
  }

  test("the production column is what production does: required, https only, refused inline", () => {
    const first = PARTNERS[0].toUpperCase();
    let checked = 0;
    for (const { title, load, production } of LOADERS) {
      const program = PROGRAMS.find((candidate) => candidate.title.startsWith(title));
      const rows = program?.tables.flatMap((table) => envRows(table.schema)) ?? [];
      for (const row of rows) {
        const variable = row.variable.replace("<P>", first);
        const outcome = (change: (env: EnvSource) => void) => {
          const env = production();
          change(env);
          return { title, variable, refused: refused(load, env) };
        };
        const expectRefused = (change: (env: EnvSource) => void) => {
          expect(outcome(change)).toEqual({ title, variable, refused: variable });
          checked++;
        };
        if (row.production.startsWith("required"))
          expectRefused((env) => {
            delete env[variable];
          });
        if (row.production.includes("must be https"))
          expectRefused((env) => {
            env[variable] = "http://plain.example.test";
          });
        const inline = (env: EnvSource) => {
          env[variable] = "ab".repeat(32);
          delete env[`${variable}_FILE`];
        };
        if (row.production.startsWith("refused inline")) expectRefused(inline);
        if (row.production.startsWith("taken inline")) {
          expect(outcome(inline)).toEqual({ title, variable, refused: null });
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(20);
  });

  test("no production module reads the environment outside its env module", () => {
    const ENV_MODULES = [
      "apps/admin/src/env.ts",
      "apps/cli/src/env.ts",
      "apps/health-probe/src/env.ts",
      "packages/consent-audit/src/migrate-env.ts",
      "packages/server/src/env.ts",
    ];
    // Test helpers ship in no program: `testing.ts` reads the test database's URL.
    const production = [
      ...["admin", "api", "cli", "health-probe"].map((app) => `apps/${app}/src`),
      ...readdirSync(join(ROOT, "packages")).map((name) => `packages/${name}/src`),
    ];
    const readers = production
      .flatMap((folder) =>
        readdirSync(join(ROOT, folder), { recursive: true, encoding: "utf8" })
          .filter((file) => file.endsWith(".ts") && !file.endsWith("testing.ts"))
          .map((file) => join(ROOT, folder, file)),
      )
      .filter((file) => /process\.env|Bun\.env|import\.meta\.env/.test(readFileSync(file, "utf8")))
      .map((file) => relative(ROOT, file))
      .sort();
    expect(readers).toEqual(ENV_MODULES);
  });
});
