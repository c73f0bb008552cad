import {
  databaseCa,
  databaseFileEnv,
  databasePassword,
  databaseUrl,
  type EnvSource,
  parseEnv,
} from "@propgate/config";
import { z } from "zod";

/** What `migrate` reads (docs/configuration.md): the database, as every program reaches it. */
export const migrateEnv = z.object({
  DATABASE_URL: databaseUrl.meta({
    description:
      "the PostgreSQL database to bring to the committed schema, `postgres://…?sslmode=verify-full`; as the owner role (`infra/postgres/README.md`)",
  }),
  ...databaseFileEnv,
});

/** The settings of `migrate`; the only reader of process.env there. */
export function loadMigrateEnv(source: EnvSource = process.env) {
  const env = parseEnv(migrateEnv, source);
  return {
    url: env.DATABASE_URL,
    /** The CA (PEM) that signed the PostgreSQL server's certificate, for sslmode=verify-full. */
    ca: databaseCa(env),
    /** The database role's password from DATABASE_PASSWORD_FILE; undefined: DATABASE_URL's own. */
    password: databasePassword(env),
  };
}
