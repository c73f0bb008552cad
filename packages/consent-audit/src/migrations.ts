import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { readMigrationFiles } from "drizzle-orm/migrator";
import { bigint, pgSchema, serial, text } from "drizzle-orm/pg-core";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import type { Database, DatabaseHandle } from "./database";
import { registeredMigrator } from "./database";
import { postgresConnection } from "./database-tls";
import { errorCode, rootMessage } from "./pg-errors";

/**
 * The committed SQL migrations (`drizzle-kit generate`): this package's `drizzle/`, or in a
 * compiled binary (the image), where every module sits at the bundle's root, the copy embedded
 * there as `drizzle/` (infra/image/README.md, "Inside the binary").
 */
export const migrationsFolder = Bun.isStandaloneExecutable
  ? `${import.meta.dir}/drizzle`
  : fileURLToPath(new URL("../drizzle", import.meta.url));

/** Session-level advisory lock key that serializes concurrent `migrate` runs on PostgreSQL. */
const MIGRATION_LOCK_KEY = 7_402_113_001;

// drizzle's own bookkeeping table (schema "drizzle"); declared here only to read it.
const drizzleMigrations = pgSchema("drizzle").table("__drizzle_migrations", {
  id: serial().primaryKey(),
  hash: text().notNull(),
  createdAt: bigint({ mode: "number" }),
});

interface JournalEntry {
  tag: string;
  when: number;
}

interface ExpectedMigration extends JournalEntry {
  hash: string;
}

let expected: readonly ExpectedMigration[] | undefined;

function expectedMigrations(): readonly ExpectedMigration[] {
  if (expected === undefined) {
    const journal = JSON.parse(readFileSync(`${migrationsFolder}/meta/_journal.json`, "utf8")) as {
      entries: JournalEntry[];
    };
    const files = readMigrationFiles({ migrationsFolder });
    expected = journal.entries.map((entry, i) => ({
      tag: entry.tag,
      when: entry.when,
      hash: files[i]?.hash ?? "",
    }));
  }
  return expected;
}

const pgliteRuns = new WeakMap<Database, Promise<void>>();

/** Applies every committed migration not yet applied; safe to run again and concurrently. */
export async function migrateDatabase(handle: DatabaseHandle): Promise<void> {
  const target = registeredMigrator(handle.db);
  if (target === undefined) {
    throw new Error("migrateDatabase needs a handle created by openDatabase");
  }
  if (target.kind === "pglite") {
    // One process owns a PGlite; queue overlapping runs so the second sees the first's work.
    const previous = pgliteRuns.get(handle.db) ?? Promise.resolve();
    const run = previous
      .catch(() => undefined)
      .then(async () => {
        const { migrate } = await import("drizzle-orm/pglite/migrator");
        await migrate(target.db, { migrationsFolder });
      });
    pgliteRuns.set(handle.db, run);
    await run;
    return;
  }
  // A dedicated single connection, so the session advisory lock covers every migration query.
  const connection = postgresConnection(target.url, target.ca, target.password);
  const client = postgres(connection.url, {
    ...connection.options,
    max: 1,
    onnotice: () => {},
  });
  try {
    await client.unsafe(`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`);
    await migratePostgres(drizzlePostgres({ client }), { migrationsFolder });
    await client.unsafe(`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`);
  } finally {
    await client.end({ timeout: 5 });
  }
}

export type Readiness = { ok: true } | { ok: false; reason: string };

/** Ready = the database answers AND every committed migration is applied (as drizzle records it). */
export async function checkReadiness(handle: { db: Database }): Promise<Readiness> {
  let applied: { hash: string; createdAt: number | null }[];
  try {
    await handle.db.execute(sql`select 1`);
  } catch (err) {
    return { ok: false, reason: `database unreachable: ${rootMessage(err)}` };
  }
  try {
    applied = await handle.db
      .select({ hash: drizzleMigrations.hash, createdAt: drizzleMigrations.createdAt })
      .from(drizzleMigrations);
  } catch (err) {
    if (errorCode(err) === "42P01" || errorCode(err) === "3F000") {
      return {
        ok: false,
        reason: "migrations not applied (no drizzle.__drizzle_migrations table)",
      };
    }
    return { ok: false, reason: `cannot read applied migrations: ${rootMessage(err)}` };
  }
  const appliedHashes = new Set(applied.map((row) => row.hash));
  const pending = expectedMigrations().filter((m) => !appliedHashes.has(m.hash));
  if (pending.length > 0) {
    return {
      ok: false,
      reason: `${pending.length} migration(s) not applied: ${pending.map((m) => m.tag).join(", ")}`,
    };
  }
  return { ok: true };
}
