import { type DatabaseEnv, databasePassword, databaseUrlPasswordWarning } from "./database.ts";
import { databaseCa } from "./tls.ts";

/** What every program that opens PostgreSQL reads besides DATABASE_URL. */
export interface DatabaseSettings {
  /** The CA (PEM) that signed the PostgreSQL server's certificate, for sslmode=verify-full. */
  databaseCa: string | undefined;
  /** The database role's password from DATABASE_PASSWORD_FILE; undefined: DATABASE_URL's own. */
  databasePassword: string | undefined;
  /** Logged once at start in production when DATABASE_URL carries the password; else null. */
  inlineDatabasePasswordWarning: string | null;
}

/** A program's `DatabaseSettings` from its parsed variables; a bad file stops startup. */
export function databaseSettings(
  env: DatabaseEnv,
  options: { production: boolean },
): DatabaseSettings {
  return {
    databaseCa: databaseCa(env),
    databasePassword: databasePassword(env),
    inlineDatabasePasswordWarning: options.production ? databaseUrlPasswordWarning(env) : null,
  };
}
