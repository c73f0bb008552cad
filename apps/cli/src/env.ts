import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  ConfigError,
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
  readConfigFile,
  retentionEnv,
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
  PARTNER_SURFACE_CLIENT_ID: z.string().min(1).max(256).optional().meta({
    description:
      "`partner verify --surface`: the client id Propgate issued the partner on its partner surface (`events.write`)",
  }),
  PARTNER_SURFACE_CLIENT_SECRET: z.string().min(1).max(1024).optional().meta({
    description: "`partner verify --surface`: that client's secret, inline (a check run by hand)",
    unset: "– (or `PARTNER_SURFACE_CLIENT_SECRET_FILE`)",
  }),
  PARTNER_SURFACE_CLIENT_SECRET_FILE: z.string().min(1).optional().meta({
    description: "`partner verify --surface`: a file holding that client's secret",
  }),
  AUDIT_SIGNING_KEY_FILE: z.string().min(1).optional().meta({
    description:
      "the api's signing key: checks checkpoints too, and signs the chain of a command that writes audit rows (`devices import`, `blocks lift`)",
    unset: "– (with `DATA_DIR`, the embedded stack's key there)",
    production: "needed by the commands that write audit rows",
  }),
});

/** The retention periods `retention run` prunes past (the api reads the journal's too). */
const retentionCliEnv = z.object(retentionEnv);

/** `partner verify` reads a partner's settings as the api does, inline secrets included. */
const PARTNER_VERIFY_TAKES_INLINE_SECRETS = true;

/**
 * What the operator CLI reads, for the configuration reference (docs/configuration.md):
 * `PARTNER_<P>_*` only by `partner verify`, the retention periods only by `retention run`.
 */
export const cliEnvReference = [
  cliEnv,
  partnerEnv("<P>", { inlineSecretsTaken: PARTNER_VERIFY_TAKES_INLINE_SECRETS }),
  retentionCliEnv,
] as const;

/** The retention periods of `retention run`; a bad one is a ConfigError naming it. */
export function loadRetentionEnv(source: EnvSource = process.env) {
  return parseEnv(retentionCliEnv, source);
}

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
 * The partner-surface client `partner verify --surface` posts events as: the id and the secret
 * (inline or from its file, not both). A missing one is a ConfigError naming it.
 */
export function loadSurfaceClientEnv(source: EnvSource = process.env): {
  clientId: string;
  clientSecret: string;
} {
  const env = parseEnv(
    cliEnv.pick({
      PARTNER_SURFACE_CLIENT_ID: true,
      PARTNER_SURFACE_CLIENT_SECRET: true,
      PARTNER_SURFACE_CLIENT_SECRET_FILE: true,
    }),
    source,
  );
  if (!env.PARTNER_SURFACE_CLIENT_ID)
    throw new ConfigError("PARTNER_SURFACE_CLIENT_ID", "is missing (needed with --surface)");
  if (env.PARTNER_SURFACE_CLIENT_SECRET && env.PARTNER_SURFACE_CLIENT_SECRET_FILE)
    throw new ConfigError("PARTNER_SURFACE_CLIENT_SECRET", "is set twice: inline and _FILE");
  const secret =
    env.PARTNER_SURFACE_CLIENT_SECRET ??
    (env.PARTNER_SURFACE_CLIENT_SECRET_FILE
      ? readConfigFile(
          "PARTNER_SURFACE_CLIENT_SECRET_FILE",
          env.PARTNER_SURFACE_CLIENT_SECRET_FILE,
        ).trim()
      : undefined);
  if (!secret)
    throw new ConfigError("PARTNER_SURFACE_CLIENT_SECRET", "is missing (needed with --surface)");
  return { clientId: env.PARTNER_SURFACE_CLIENT_ID, clientSecret: secret };
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
