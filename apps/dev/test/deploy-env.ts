import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadAdminEnv } from "@propgate/admin";
import { loadCliEnv, loadRetentionEnv } from "@propgate/cli/env";
import { ConfigError, databaseCa, databasePassword, type EnvSource } from "@propgate/config";
import { SURFACE_SCOPES } from "@propgate/domain";
import { loadProbeEnv } from "@propgate/health-probe";
import { createTestCertificates } from "@propgate/partner-sim/testing";
import { loadApiEnv } from "@propgate/server";

/**
 * The deployment kit's settings, checked by the programs themselves: each manifest's environment
 * goes through its program's own env loader, which says whether it starts (every required
 * variable set, production rules met, every file readable and of the right kind) and which
 * variables it read. A variable set but never read is one no program knows (a typo, a removed
 * setting). Used by the deploy-*.test.ts files.
 */

/** The programs of the image, by the arguments that start them (infra/k8s/README.md). */
export type Program =
  | "api"
  | "admin"
  | "health-probe"
  | "migrate"
  | "audit-verify"
  | "retention"
  | "security-check";

export function programOf(args: readonly string[]): Program {
  const [first, second, third] = args;
  if (first === "api" || first === "admin" || first === "health-probe" || first === "migrate")
    return first;
  if (first === "propgate" && second === "audit" && third === "verify") return "audit-verify";
  if (first === "propgate" && second === "security-check") return "security-check";
  if (first === "propgate" && second === "retention" && third === "run") return "retention";
  throw new Error(`no program starts with ${JSON.stringify(args)}`);
}

/** Read by the runtime, not by a program's env schema: JavaScriptCore's heap budget and growth. */
export const RUNTIME_VARIABLES = new Set(["BUN_JSC_forceRAMSize", "BUN_JSC_smallHeapGrowthFactor"]);

const LOADERS: Record<Program, (source: EnvSource) => unknown> = {
  api: loadApiEnv,
  admin: loadAdminEnv,
  "health-probe": loadProbeEnv,
  // As packages/consent-audit/src/migrate-cli.ts reads them: the URL, its CA and password files.
  migrate: (source) => {
    if (!source.DATABASE_URL) throw new ConfigError("DATABASE_URL", "is missing");
    return { ca: databaseCa(source), password: databasePassword(source) };
  },
  "audit-verify": (source) => {
    const env = loadCliEnv(source);
    if (!env.DATABASE_URL) throw new ConfigError("DATABASE_URL", "is missing");
    return env;
  },
  // As apps/cli/src/main.ts reads them for `retention run`: the database, the signing key, the periods.
  retention: (source) => {
    const env = loadCliEnv(source);
    if (!env.DATABASE_URL) throw new ConfigError("DATABASE_URL", "is missing");
    if (!env.AUDIT_SIGNING_KEY_FILE) throw new ConfigError("AUDIT_SIGNING_KEY_FILE", "is missing");
    return { ...env, ...loadRetentionEnv(source) };
  },
  // Its inputs are its arguments (--env files); it reads no variable.
  "security-check": () => null,
};

let certificates: ReturnType<typeof createTestCertificates> | undefined;
function certificate(): string {
  certificates ??= createTestCertificates();
  if (!certificates) throw new Error("openssl is needed for the test certificates");
  return certificates.caFile;
}

/** Removes the test certificates, once a file is done with checkProgramEnv. */
export function removeTestMaterial(): void {
  if (certificates) rmSync(certificates.dir, { recursive: true, force: true });
  certificates = undefined;
}

const ed25519 = () => generateKeyPairSync("ed25519");

/** What a file named by `variable` holds, made here: keys, secrets, a clients file. */
function material(variable: string): string | { copyOf: string } {
  if (/_(CA|CERT)_FILE$/.test(variable)) return { copyOf: certificate() };
  if (variable === "AUDIT_VERIFY_KEY_FILE")
    return ed25519().publicKey.export({ type: "spki", format: "pem" }).toString();
  if (
    /^(AUDIT_SIGNING|PARTNER_TOKEN)_KEY_FILE$/.test(variable) ||
    /_CLIENT_KEY_FILE$/.test(variable)
  )
    return ed25519().privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  if (variable === "TLS_KEY_FILE")
    return ed25519().privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  if (/_SUBJECT_KEY_FILE$/.test(variable)) return randomBytes(32).toString("hex");
  if (/(_SECRET|_PASSWORD)_FILE$/.test(variable)) return randomBytes(32).toString("base64");
  if (variable === "PARTNER_CLIENTS_FILE") {
    const secretHash = Bun.password.hashSync("test-secret", {
      algorithm: "argon2id",
      memoryCost: 4096,
      timeCost: 2,
    });
    return JSON.stringify([
      {
        clientId: "intercom-partner",
        secretHash,
        partner: "intercom",
        scopes: [...SURFACE_SCOPES],
        addresses: ["10.80.0.2"],
      },
    ]);
  }
  throw new Error(`no test material for ${variable}: say in deploy-env.ts what its file holds`);
}

export interface ProgramVerdict {
  /** The loader's ConfigError message; null when the program would start with this env. */
  error: string | null;
  /** What the loader made of it (null on an error): the settings the program would run with. */
  loaded: unknown;
  /** Variables the environment sets that neither the program nor the runtime reads. */
  unread: string[];
}

/**
 * Runs `program`'s env loader over `env`, each `*_FILE` variable pointing at a file of fitting
 * test material (the manifests' paths exist only in their pods), and records what it reads.
 */
export function checkProgramEnv(program: Program, env: Record<string, string>): ProgramVerdict {
  const dir = mkdtempSync(join(tmpdir(), "propgate-deploy-env-"));
  try {
    const values: Record<string, string> = { ...env };
    for (const variable of Object.keys(env).filter((name) => name.endsWith("_FILE"))) {
      const content = material(variable);
      const file = join(dir, variable);
      writeFileSync(file, typeof content === "string" ? content : readFileSync(content.copyOf));
      values[variable] = file;
    }
    const read = new Set<string>();
    const source = new Proxy(values, {
      get(target, key) {
        if (typeof key === "string") read.add(key);
        return typeof key === "string" ? target[key] : undefined;
      },
    }) as EnvSource;
    let error: string | null = null;
    let loaded: unknown = null;
    try {
      loaded = LOADERS[program](source);
    } catch (caught) {
      if (!(caught instanceof ConfigError)) throw caught;
      error = caught.message;
    }
    const unread = Object.keys(env).filter(
      (name) => !read.has(name) && !RUNTIME_VARIABLES.has(name),
    );
    return { error, loaded, unread };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Settings whose names say they hold a secret inline (their `_FILE` forms are fine). */
export function looksSecret(name: string, value: string): string | null {
  if (/(SECRET|PASSWORD|TOKEN|PRIVATE|_KEY)$/.test(name)) return `${name} names a secret`;
  if (/-----BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)-----/.test(value)) return `${name} holds a PEM`;
  const userinfo = /^[a-z][a-z0-9+.-]*:\/\/([^/@\s]*)@/i.exec(value)?.[1];
  if (userinfo?.includes(":")) return `${name} is a URL with a password`;
  return null;
}

/** `KEY=VALUE` lines as kustomize's envs and compose's env_file read them (`#` comments). */
export function parseEnvText(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const at = trimmed.indexOf("=");
    if (at < 1) throw new Error(`not KEY=VALUE: ${trimmed}`);
    env[trimmed.slice(0, at)] = trimmed.slice(at + 1);
  }
  return env;
}

/** Bytes of a Kubernetes quantity (`768Mi`, `1Gi`, `512M`, plain bytes). */
export function quantityBytes(quantity: string | number): number {
  const match = /^(\d+)(Ki|Mi|Gi|K|M|G)?$/.exec(String(quantity));
  if (!match) throw new Error(`not a memory quantity: ${quantity}`);
  const units: Record<string, number> = {
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
    K: 1000,
    M: 1000 ** 2,
    G: 1000 ** 3,
  };
  return Number(match[1]) * (match[2] ? (units[match[2]] ?? 1) : 1);
}

/** The heap budget rule of the kit: the memory limit less 256 MiB kept outside the JS heap. */
export const HEAP_HEADROOM_BYTES = 256 * 1024 ** 2;
