import {
  ConfigError,
  checkPartnerUrl,
  type DatabaseSettings,
  databaseFileEnv,
  databaseSettings,
  databaseUrl,
  type EnvSource,
  host,
  integer,
  isLoopbackHost,
  parseEnv,
  port,
  propgateEnv,
  readConfigFile,
  url,
} from "@propgate/config";
import { z } from "zod";

/** What the admin app reads (docs/configuration.md). */
export const adminEnv = z.object({
  PROPGATE_ENV: propgateEnv.default("production").meta({
    description:
      "`production`, `development` or `test`; outside production plain http to a loopback identity provider and `ADMIN_URL`, and a cookie without `Secure`, are allowed",
  }),
  HOST: host.default("127.0.0.1").meta({ description: "address the admin app listens on" }),
  PORT: port.default(8790).meta({ description: "port the admin app listens on" }),
  API_URL: url.meta({
    description:
      "the api the admin page talks to, through this app's `/trpc/admin.*` proxy; the admin's access token travels to it",
    production: "must be https (plain http only to loopback), in every environment",
  }),
  ADMIN_URL: url.optional().meta({
    description:
      "this app's public origin (no path); its `/auth/callback` is the redirect URI to register, `/auth/signed-out` the post-logout one",
    unset: "– (development on a loopback `HOST` only: the listener's own URL)",
    production: "required; must be https",
  }),
  ADMIN_OIDC_ISSUER: url.meta({
    description:
      "the company's OpenID Connect provider (discovery at `/.well-known/openid-configuration`); its access tokens must be ones the api accepts (`AUTH_ISSUER`, `AUTH_AUDIENCE`) and carry `roles`",
    production: "must be https",
  }),
  ADMIN_OIDC_CLIENT_ID: z
    .string()
    .regex(/^[\x21-\x7e]{1,200}$/, "must be 1-200 printable characters")
    .meta({ description: "this app's client id at the provider (a confidential client, PKCE)" }),
  ADMIN_OIDC_CLIENT_SECRET_FILE: z.string().min(1).meta({
    description: "file holding this app's client secret at the provider (read once, trimmed)",
  }),
  ADMIN_SESSION_IDLE_SECONDS: integer(1, 86_400)
    .default(30 * 60)
    .meta({
      description: "a session unused this long is over (at most `ADMIN_SESSION_MAX_SECONDS`)",
    }),
  ADMIN_SESSION_MAX_SECONDS: integer(1, 7 * 86_400)
    .default(8 * 3600)
    .meta({ description: "a session is over this long after sign-in, however busy" }),
  ADMIN_SESSION_SECRET_FILE: z.string().min(1).optional().meta({
    description:
      "file holding the key (32+ characters, e.g. `openssl rand -base64 32`) of the sealed sign-in cookie and of the sessions' tokens at rest, the same for every replica, so a sign-in started on one finishes on another and a session works on all",
    unset: "– (a random key per process)",
    production: "required",
  }),
  PROMETHEUS_URL: url.optional().meta({
    description:
      "the Prometheus that scrapes Propgate's `/metrics`: the overview screen's charts are read from its HTTP API (`/api/v1/query_range`) by this app, never by the browser. http(s), a base path allowed (`http://prometheus:9090`, `https://monitoring.internal/prometheus`), no user or query",
    unset: "– (the overview screen says Prometheus is not set up)",
  }),
  DATABASE_URL: databaseUrl.optional().meta({
    description:
      "PostgreSQL where the sessions live, shared by every replica (connect as `propgate_admin_app`)",
    unset: "– (embedded PGlite: in memory, or under `DATA_DIR`)",
    production: "required",
  }),
  DATA_DIR: z.string().optional().meta({
    description: "development only: the embedded PGlite's folder when no `DATABASE_URL`",
    production: "refused (PGlite is for development)",
  }),
  ...databaseFileEnv,
});

/** Enough to derive a 256-bit key from: `openssl rand -base64 32` gives 44 characters. */
const MIN_SECRET_CHARS = 32;

export interface AdminEnv extends DatabaseSettings {
  PROPGATE_ENV: z.infer<typeof propgateEnv>;
  HOST: string;
  PORT: number;
  API_URL: URL;
  /** Null in development only: then the listener's own URL is the public one. */
  ADMIN_URL: URL | null;
  ADMIN_OIDC_ISSUER: URL;
  ADMIN_OIDC_CLIENT_ID: string;
  /** Read from ADMIN_OIDC_CLIENT_SECRET_FILE. */
  clientSecret: string;
  ADMIN_SESSION_IDLE_SECONDS: number;
  ADMIN_SESSION_MAX_SECONDS: number;
  /** Read from ADMIN_SESSION_SECRET_FILE; null (development only): each process makes a random key. */
  sessionSecret: string | null;
  /** PostgreSQL (required in production); null: PGlite under DATA_DIR, or in memory. */
  DATABASE_URL: string | null;
  DATA_DIR: string | null;
  /** Plain http to the provider (and a cookie without `Secure`) only on loopback outside production. */
  allowInsecureLoopback: boolean;
  /** Where the overview's series are read; null: the screen says it is not set up. */
  PROMETHEUS_URL: URL | null;
}

/** Settings of the admin app; the only reader of process.env. */
export function loadAdminEnv(source: EnvSource = process.env): AdminEnv {
  const env = parseEnv(adminEnv, source);
  const production = env.PROPGATE_ENV === "production";
  const allowInsecureLoopback = !production;
  // Replicas share their sessions through PostgreSQL and open each other's seals with one key.
  if (production && !env.DATABASE_URL)
    throw new ConfigError(
      "DATABASE_URL",
      env.DATA_DIR
        ? "is missing: DATA_DIR (embedded PGlite) is for development only"
        : "is missing",
    );
  if (production && !env.ADMIN_SESSION_SECRET_FILE)
    throw new ConfigError(
      "ADMIN_SESSION_SECRET_FILE",
      "is missing: production seals sessions and sign-ins with it, the same file on every replica (openssl rand -base64 32)",
    );
  const adminUrl = env.ADMIN_URL ?? null;
  if (!adminUrl && (production || !isLoopbackHost(env.HOST)))
    throw new ConfigError(
      "ADMIN_URL",
      "is missing (optional only on a loopback HOST in development)",
    );
  if (adminUrl) {
    if (adminUrl.pathname !== "/" || adminUrl.search || adminUrl.hash || adminUrl.username)
      throw new ConfigError("ADMIN_URL", "is invalid: must be an origin (no path, query or user)");
    const insecureOk = allowInsecureLoopback && isLoopbackHost(adminUrl.hostname);
    if (adminUrl.protocol !== "https:" && !(adminUrl.protocol === "http:" && insecureOk))
      throw new ConfigError(
        "ADMIN_URL",
        "is invalid: must be https (plain http only on loopback in development)",
      );
  }
  // The admin's access token travels to the api: https, or plain http on this machine.
  if (
    env.API_URL.protocol !== "https:" &&
    !(env.API_URL.protocol === "http:" && isLoopbackHost(env.API_URL.hostname))
  )
    throw new ConfigError("API_URL", "is invalid: must be https (plain http only on loopback)");
  const issuerProblem = checkPartnerUrl(env.ADMIN_OIDC_ISSUER, allowInsecureLoopback);
  if (issuerProblem) throw new ConfigError("ADMIN_OIDC_ISSUER", `is invalid: ${issuerProblem}`);
  const clientSecret = readConfigFile(
    "ADMIN_OIDC_CLIENT_SECRET_FILE",
    env.ADMIN_OIDC_CLIENT_SECRET_FILE,
  ).trim();
  if (!clientSecret)
    throw new ConfigError("ADMIN_OIDC_CLIENT_SECRET_FILE", "points at an empty file");
  const sessionSecret =
    env.ADMIN_SESSION_SECRET_FILE === undefined
      ? null
      : readConfigFile("ADMIN_SESSION_SECRET_FILE", env.ADMIN_SESSION_SECRET_FILE).trim();
  if (sessionSecret !== null && sessionSecret.length < MIN_SECRET_CHARS)
    throw new ConfigError(
      "ADMIN_SESSION_SECRET_FILE",
      `must hold at least ${MIN_SECRET_CHARS} characters (e.g. openssl rand -base64 32)`,
    );
  const prometheus = env.PROMETHEUS_URL ?? null;
  if (
    prometheus &&
    ((prometheus.protocol !== "http:" && prometheus.protocol !== "https:") ||
      prometheus.search ||
      prometheus.hash ||
      prometheus.username ||
      prometheus.password)
  )
    throw new ConfigError(
      "PROMETHEUS_URL",
      "is invalid: must be http(s) with no user, query or fragment",
    );
  if (env.ADMIN_SESSION_IDLE_SECONDS > env.ADMIN_SESSION_MAX_SECONDS)
    throw new ConfigError(
      "ADMIN_SESSION_IDLE_SECONDS",
      "must not exceed ADMIN_SESSION_MAX_SECONDS",
    );
  return {
    PROPGATE_ENV: env.PROPGATE_ENV,
    HOST: env.HOST,
    PORT: env.PORT,
    API_URL: env.API_URL,
    ADMIN_URL: adminUrl,
    ADMIN_OIDC_ISSUER: env.ADMIN_OIDC_ISSUER,
    ADMIN_OIDC_CLIENT_ID: env.ADMIN_OIDC_CLIENT_ID,
    clientSecret,
    ADMIN_SESSION_IDLE_SECONDS: env.ADMIN_SESSION_IDLE_SECONDS,
    ADMIN_SESSION_MAX_SECONDS: env.ADMIN_SESSION_MAX_SECONDS,
    sessionSecret,
    DATABASE_URL: env.DATABASE_URL ?? null,
    DATA_DIR: env.DATA_DIR ?? null,
    ...databaseSettings(env, { production }),
    allowInsecureLoopback,
    PROMETHEUS_URL: prometheus,
  };
}
