import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  databaseCa,
  databasePassword,
  type EnvSource,
  type PartnerSettings,
  parseEnv,
  partnerSettings,
  propgateEnv,
} from "@propgate/config";
import type { Partner } from "@propgate/domain";
import { z } from "zod";

const schema = z.object({
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL")
    .optional(),
  DATA_DIR: z.string().optional(),
  /** The key that checks audit checkpoints: the public key, or the api's signing key itself. */
  AUDIT_VERIFY_KEY_FILE: z.string().min(1).optional(),
  /**
   * The api's signing key: checks checkpoints too, and signs the chain of a command that writes
   * audit rows (`devices import`; required for those in production). With DATA_DIR, the
   * embedded default's key there is the default.
   */
  AUDIT_SIGNING_KEY_FILE: z.string().min(1).optional(),
  PROPGATE_ENV: propgateEnv.default("production"),
});

/** Settings of the operator CLI. */
export function loadCliEnv(source: EnvSource = process.env) {
  const base = parseEnv(schema, source);
  const embeddedKey = base.DATA_DIR ? join(base.DATA_DIR, "audit-signing-key.pem") : undefined;
  return {
    ...base,
    AUDIT_SIGNING_KEY_FILE:
      base.AUDIT_SIGNING_KEY_FILE ??
      (embeddedKey && existsSync(embeddedKey) ? embeddedKey : undefined),
    /** The CA (PEM) that signed the PostgreSQL server's certificate, for sslmode=verify-full. */
    databaseCa: databaseCa(source),
    /** The database role's password from DATABASE_PASSWORD_FILE; undefined: DATABASE_URL's own. */
    databasePassword: databasePassword(source),
  };
}

/**
 * One partner's `PARTNER_<P>_*` settings, read as the api reads them (plain http to loopback
 * only outside production); `partner verify` needs nothing else, no database. Inline secrets are
 * taken even in production: a check run by hand lives seconds in an operator's shell, not in a
 * unit file or a container's spec, which is what the api's refusal guards against.
 */
export function loadPartnerEnv(
  partner: Partner,
  source: EnvSource = process.env,
): { settings: PartnerSettings; allowInsecureLoopback: boolean } {
  const { PROPGATE_ENV } = parseEnv(
    z.object({ PROPGATE_ENV: propgateEnv.default("production") }),
    source,
  );
  const allowInsecureLoopback = PROPGATE_ENV !== "production";
  return {
    settings: partnerSettings(partner, source, { allowInsecureLoopback, allowInlineSecrets: true }),
    allowInsecureLoopback,
  };
}
