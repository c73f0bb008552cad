import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateAuditSigningKey } from "@propgate/consent-audit";

/**
 * What the tests of how each process logs in to PostgreSQL (database-tls, database-password)
 * share: the entry points they start, the api's production settings, and a refusal's cause.
 */
export const API_MAIN = `${import.meta.dir}/../../api/src/main.ts`;
export const MIGRATE = `${import.meta.dir}/../../../packages/consent-audit/src/migrate-cli.ts`;

/**
 * The api's production settings with `database` (DATABASE_*): partners that are never called,
 * their secrets and the audit key in files written to `dir`, as production requires.
 */
export function productionApiEnv(
  dir: string,
  database: Record<string, string>,
): Record<string, string> {
  const secret = join(dir, "partner-client-secret");
  const subjectKey = join(dir, "partner-subject-key");
  const auditKey = join(dir, "audit-signing-key.pem");
  writeFileSync(secret, "partner-secret-for-database-tests", { mode: 0o600 });
  writeFileSync(subjectKey, "cd".repeat(32), { mode: 0o600 });
  writeFileSync(auditKey, generateAuditSigningKey(), { mode: 0o600 });
  return {
    PATH: process.env.PATH ?? "",
    PROPGATE_ENV: "production",
    HOST: "127.0.0.1",
    PORT: "0",
    METRICS_LISTEN: "off",
    SHUTDOWN_DRAIN_MS: "0",
    AUTH_ISSUER: "https://id.example",
    AUTH_AUDIENCE: "propgate-api",
    AUTH_JWKS_URL: "https://id.example/.well-known/jwks.json",
    AUDIT_SIGNING_KEY_FILE: auditKey,
    ...Object.fromEntries(
      ["INTERCOM", "BARRIER"].flatMap((partner) => [
        [`PARTNER_${partner}_BASE_URL`, `https://${partner.toLowerCase()}.example`],
        [`PARTNER_${partner}_TOKEN_URL`, `https://${partner.toLowerCase()}.example/oauth/token`],
        [`PARTNER_${partner}_CLIENT_ID`, "propgate"],
        [`PARTNER_${partner}_CLIENT_SECRET_FILE`, secret],
        [`PARTNER_${partner}_SUBJECT_KEY_FILE`, subjectKey],
      ]),
    ),
    ...database,
  };
}

/** Why `promise` failed: the innermost error's message and code (drizzle and postgres.js wrap it). */
export async function refusal(
  promise: Promise<unknown>,
): Promise<{ message: string; code?: string }> {
  try {
    await promise;
  } catch (error) {
    let current = error as Error & { code?: string; cause?: unknown };
    while (current.cause instanceof Error) current = current.cause as typeof current;
    return { message: current.message, code: current.code };
  }
  throw new Error("expected the database to refuse");
}
