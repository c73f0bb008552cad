import { join } from "node:path";
import { type Database, migrateDatabase, openDatabase } from "@propgate/consent-audit";
import { createTestDatabase, type TestDatabase } from "@propgate/consent-audit/testing";

/**
 * A database shared by a test and the operator CLI it runs as a child process: with
 * DATABASE_URL a throwaway PostgreSQL database both hold open at once; without, a PGlite data
 * dir, which one process opens at a time, so the test holds it only while no CLI runs.
 */
export interface CliDatabase {
  /** The CLI's settings for it: DATABASE_URL, or DATA_DIR. */
  env: Record<string, string>;
  /** The PostgreSQL test database, open until `close`; null over PGlite. */
  postgres: TestDatabase | null;
  /** The database opened here (PGlite: migrated, and held until `release`). */
  open(): Promise<{ db: Database; release(): Promise<void> }>;
  /** `use` run on the database opened here, released after. */
  withDb<T>(use: (db: Database) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** `dataDir` is the CLI's DATA_DIR where there is no PostgreSQL. */
export async function createCliDatabase(dataDir: string): Promise<CliDatabase> {
  const candidate = await createTestDatabase();
  if (candidate.url) {
    return {
      env: { DATABASE_URL: candidate.url },
      postgres: candidate,
      open: async () => ({ db: candidate.db, release: async () => {} }),
      withDb: (use) => use(candidate.db),
      close: () => candidate.close(),
    };
  }
  await candidate.close(); // PGlite: a data dir of its own, which the CLI opens too
  const open = async () => {
    const handle = await openDatabase({ dataDir: join(dataDir, "pglite") });
    await migrateDatabase(handle);
    let closing: Promise<void> | undefined;
    return { db: handle.db, release: () => (closing ??= handle.close()) };
  };
  return {
    env: { DATA_DIR: dataDir },
    postgres: null,
    open,
    async withDb(use) {
      const { db, release } = await open();
      try {
        return await use(db);
      } finally {
        await release();
      }
    },
    close: async () => {},
  };
}
