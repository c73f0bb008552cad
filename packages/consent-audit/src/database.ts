import { mkdirSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite, type PgliteDatabase } from "drizzle-orm/pglite";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import * as schema from "./schema/index";

/** One type for both drivers; a transaction (`tx`) is also a `Database`. */
export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface DatabaseHandle {
  db: Database;
  kind: "postgres" | "pglite";
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** PostgreSQL connection URL; when given, a postgres.js pool is used. */
  url?: string;
  /** PGlite data directory; in-memory when undefined. Ignored when `url` is given. */
  dataDir?: string;
  /** postgres.js pool size (default 10). */
  max?: number;
}

/** What `migrateDatabase` needs per driver; kept out of the public handle. */
export type MigrationTarget =
  | { kind: "postgres"; url: string }
  | { kind: "pglite"; db: PgliteDatabase<typeof schema> };

const migrationTargets = new WeakMap<Database, MigrationTarget>();

export function registeredMigrator(db: Database): MigrationTarget | undefined {
  return migrationTargets.get(db);
}

export async function openDatabase(opts: OpenDatabaseOptions): Promise<DatabaseHandle> {
  if (opts.url !== undefined) {
    const client = postgres(opts.url, {
      max: opts.max ?? 10,
      // Server NOTICEs (e.g. "schema already exists, skipping") are not worth a log line.
      onnotice: () => {},
    });
    const db: Database = drizzlePostgres({ client, schema, casing: "snake_case" });
    migrationTargets.set(db, { kind: "postgres", url: opts.url });
    return { db, kind: "postgres", close: () => client.end({ timeout: 5 }) };
  }
  if (opts.dataDir !== undefined) mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const client = opts.dataDir === undefined ? new PGlite() : new PGlite(opts.dataDir);
  return wrapPglite(client);
}

/** A handle over an existing PGlite instance (the test helper loads instances from a template). */
export async function wrapPglite(client: PGlite): Promise<DatabaseHandle> {
  await client.waitReady;
  const pglite = drizzlePglite({ client, schema, casing: "snake_case" });
  const db: Database = pglite;
  migrationTargets.set(db, { kind: "pglite", db: pglite });
  return { db, kind: "pglite", close: () => client.close() };
}
