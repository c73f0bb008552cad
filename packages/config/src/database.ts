import { z } from "zod";
import { ConfigError, readConfigFile } from "./parse.ts";

/** DATABASE_URL's form; each program says whether it needs one. */
export const databaseUrl = z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL");

/** The database settings besides the URL, the same in every program that opens PostgreSQL. */
export const databaseFileEnv = {
  DATABASE_CA_FILE: z.string().optional().meta({
    description:
      "PEM of the CA that signed the database server's certificate, for `DATABASE_URL` with `sslmode=verify-full` (or `verify-ca`); with any other sslmode it stops startup, as it would go unused",
    unset: "system CAs",
  }),
  DATABASE_PASSWORD_FILE: z.string().optional().meta({
    description:
      "file holding the database role's password (trailing line break dropped), for a `DATABASE_URL` without one; both at once stop startup. `PGPASSFILE` is not read",
  }),
};

/** The database variables as a program has parsed them (or the raw environment). */
export interface DatabaseEnv {
  DATABASE_URL?: string | undefined;
  DATABASE_CA_FILE?: string | undefined;
  DATABASE_PASSWORD_FILE?: string | undefined;
}

/**
 * The password in a `postgres://user:password@host…` URL, as postgres.js reads it (userinfo up to
 * the host list, which may name several hosts); "" when there is none.
 */
function urlPassword(url: string): string {
  const authority = url.slice(url.indexOf("://") + 3).split(/[/?#]/)[0] ?? "";
  const at = authority.lastIndexOf("@");
  if (at < 0) return "";
  const userinfo = authority.slice(0, at);
  const colon = userinfo.indexOf(":");
  return colon < 0 ? "" : userinfo.slice(colon + 1);
}

/**
 * DATABASE_PASSWORD_FILE: the database role's password from a file (a mounted secret, a systemd
 * credential), read once at startup with its trailing line break dropped. DATABASE_URL must then
 * carry no password: with two, one would be silently ignored. Problems name the variable only.
 */
export function databasePassword(env: DatabaseEnv): string | undefined {
  const path = env.DATABASE_PASSWORD_FILE || undefined;
  if (path === undefined) return undefined;
  const url = env.DATABASE_URL || undefined;
  if (url === undefined) {
    throw new ConfigError(
      "DATABASE_PASSWORD_FILE",
      "is set but DATABASE_URL is not: the password would not be used",
    );
  }
  if (urlPassword(url) !== "") {
    throw new ConfigError(
      "DATABASE_PASSWORD_FILE",
      "is set and DATABASE_URL holds a password too: remove the password from DATABASE_URL",
    );
  }
  const password = readConfigFile("DATABASE_PASSWORD_FILE", path).replace(/[\r\n]+$/, "");
  if (password === "") throw new ConfigError("DATABASE_PASSWORD_FILE", "points at an empty file");
  return password;
}

/**
 * The warning a production process gives once when DATABASE_URL carries the password (it then
 * shows wherever the environment does); null when it does not. Not refused: deployments that
 * predate DATABASE_PASSWORD_FILE keep starting.
 */
export function databaseUrlPasswordWarning(env: DatabaseEnv): string | null {
  const url = env.DATABASE_URL || undefined;
  if (url === undefined || urlPassword(url) === "") return null;
  return "DATABASE_URL holds the database password, which shows wherever the environment does (/proc, docker inspect, unit files): put it in a file and set DATABASE_PASSWORD_FILE";
}
