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
  AUDIT_SIGNING_KEY_FILE: z.string().min(1).optional(),
});

/** Settings of the operator CLI. */
export function loadCliEnv(source: EnvSource = process.env) {
  return {
    ...parseEnv(schema, source),
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
