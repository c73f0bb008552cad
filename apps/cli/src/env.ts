import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  databaseCa,
  databaseFileEnv,
  databasePassword,
  databaseUrl,
  type EnvSource,
  type PartnerSettings,
  parseEnv,
  partnerEnv,
  partnerSettings,
  propgateEnv,
} from "@propgate/config";
import type { Partner } from "@propgate/domain";
import { z } from "zod";

const cliEnv = z.object({
  PROPGATE_ENV: propgateEnv.default("production").meta({
    description:
      "`production`, `development` or `test`; production needs the signing key for commands that write audit rows, and `partner verify` then takes https partners only",
  }),
  DATABASE_URL: databaseUrl.optional().meta({
    description:
      "PostgreSQL, as the api reaches it (every command but `security-check` and `partner verify`)",
    unset: "– (required unless `DATA_DIR`)",
  }),
  ...databaseFileEnv,
  DATA_DIR: z.string().optional().meta({
    description:
      "the data folder of a stopped embedded stack (`bun run start`): its PGlite, and its audit signing key as the default",
  }),
  AUDIT_VERIFY_KEY_FILE: z.string().min(1).optional().meta({
    description:
      "the key `audit verify` checks checkpoints with: the public key, or the api's signing key itself",
    unset: "`AUDIT_SIGNING_KEY_FILE`",
  }),
  AUDIT_SIGNING_KEY_FILE: z.string().min(1).optional().meta({
    description:
      "the api's signing key: checks checkpoints too, and signs the chain of a command that writes audit rows (`devices import`, `blocks lift`)",
    unset: "– (with `DATA_DIR`, the embedded stack's key there)",
    production: "needed by the commands that write audit rows",
  }),
});

/** `partner verify` reads a partner's settings as the api does, inline secrets included. */
const PARTNER_VERIFY_TAKES_INLINE_SECRETS = true;

/**
 * What the operator CLI reads, for the configuration reference (docs/configuration.md):
 * `PARTNER_<P>_*` only by `partner verify`.
 */
export const cliEnvReference = [
  cliEnv,
  partnerEnv("<P>", { inlineSecretsTaken: PARTNER_VERIFY_TAKES_INLINE_SECRETS }),
] as const;

/** Settings of the operator CLI. */
export function loadCliEnv(source: EnvSource = process.env) {
  const base = parseEnv(cliEnv, source);
  const embeddedKey = base.DATA_DIR ? join(base.DATA_DIR, "audit-signing-key.pem") : undefined;
  return {
    ...base,
    AUDIT_SIGNING_KEY_FILE:
      base.AUDIT_SIGNING_KEY_FILE ??
      (embeddedKey && existsSync(embeddedKey) ? embeddedKey : undefined),
    /** The CA (PEM) that signed the PostgreSQL server's certificate, for sslmode=verify-full. */
    databaseCa: databaseCa(base),
    /** The database role's password from DATABASE_PASSWORD_FILE; undefined: DATABASE_URL's own. */
    databasePassword: databasePassword(base),
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
  const { PROPGATE_ENV } = parseEnv(cliEnv.pick({ PROPGATE_ENV: true }), source);
  const allowInsecureLoopback = PROPGATE_ENV !== "production";
  return {
    settings: partnerSettings(partner, source, {
      allowInsecureLoopback,
      allowInlineSecrets: PARTNER_VERIFY_TAKES_INLINE_SECRETS,
    }),
    allowInsecureLoopback,
  };
}
