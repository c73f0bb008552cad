import { PGlite } from "@electric-sql/pglite";
import postgres from "postgres";
import { type DatabaseHandle, openDatabase, wrapPglite } from "./database";
import { migrateDatabase } from "./migrations";
import { describeDatabaseUrl } from "./url";

export interface TestDatabase extends DatabaseHandle {
  /** e.g. `PostgreSQL 127.0.0.1:5432/propgate_t_ab12cd34` or `embedded PGlite`. */
  label: string;
  /** The throwaway database's URL (PostgreSQL only), e.g. to open a second pool. */
  url?: string;
}

let announced = false;

function announce(line: string): void {
  if (announced) return;
  announced = true;
  console.log(line);
}

/**
 * A fresh, migrated database for one test: with DATABASE_URL, a new `propgate_t_<random>`
 * database on that server (dropped by `close()`); without it, in-memory PGlite.
 * `migrate: false` leaves it empty (readiness tests).
 */
export async function createTestDatabase(opts: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const adminUrl = process.env.DATABASE_URL;
  const handle = adminUrl ? await createPostgresDatabase(adminUrl) : await createPglite();
  if (opts.migrate ?? true) {
    try {
      await migrateDatabase(handle);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }
  return handle;
}

let pgliteTemplate: Promise<Blob> | undefined;

/** initdb costs ~2 s per PGlite; run it once per process and start each database from its dump. */
async function createPglite(): Promise<TestDatabase> {
  pgliteTemplate ??= (async () => {
    const template = new PGlite();
    try {
      await template.waitReady;
      return await template.dumpDataDir("none");
    } finally {
      await template.close();
    }
  })();
  const handle = await wrapPglite(new PGlite({ loadDataDir: await pgliteTemplate }));
  announce("[db] tests run on embedded PGlite");
  return { ...handle, label: "embedded PGlite" };
}

async function createPostgresDatabase(adminUrl: string): Promise<TestDatabase> {
  const name = `propgate_t_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}"`);
  } catch (err) {
    await admin.end({ timeout: 5 });
    throw err;
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const label = describeDatabaseUrl(url.toString());
  const handle = await openDatabase({ url: url.toString() });
  announce(`[db] tests run on ${label.replace(/\/([^/]+)$/, " (database $1)")}`);
  let closing: Promise<void> | undefined;
  const dropDatabase = async () => {
    try {
      await handle.close();
      await admin`select pg_terminate_backend(pid) from pg_stat_activity
                  where datname = ${name} and pid <> pg_backend_pid()`;
      await admin.unsafe(`drop database if exists "${name}"`);
    } finally {
      await admin.end({ timeout: 5 });
    }
  };
  return {
    ...handle,
    kind: "postgres",
    label,
    url: url.toString(),
    close: () => {
      closing ??= dropDatabase();
      return closing;
    },
  };
}
