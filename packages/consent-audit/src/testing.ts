import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { desc, eq, sql } from "drizzle-orm";
import { readMigrationFiles } from "drizzle-orm/migrator";
import postgres from "postgres";
import type { AuditContext } from "./audit";
import { chainRows, emptyChain } from "./audit-chain";
import type { AuditWriter } from "./audit-writer";
import { grantConsent } from "./consent";
import { type Database, type DatabaseHandle, openDatabase, wrapPglite } from "./database";
import { migrateDatabase, migrationsFolder } from "./migrations";
import { auditEvents } from "./schema/index";
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
 * database on that server (dropped by `close()`), copied from a migrated template; without it,
 * in-memory PGlite. `migrate: false` leaves it empty (readiness tests).
 */
export async function createTestDatabase(opts: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const adminUrl = process.env.DATABASE_URL;
  const migrate = opts.migrate ?? true;
  if (adminUrl) {
    return createPostgresDatabase(adminUrl, migrate ? await migratedTemplate(adminUrl) : null);
  }
  const handle = await createPglite();
  if (migrate) {
    try {
      await migrateDatabase(handle);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }
  return handle;
}

/** infra/postgres/roles.sql, as an operator applies it. */
const ROLES_SQL = fileURLToPath(new URL("../../../infra/postgres/roles.sql", import.meta.url));

/**
 * `psql -f infra/postgres/roles.sql` on `databaseUrl` (a superuser's), with the role names as
 * psql variables (`owner_role`, `api_role`, `admin_role`, `readonly_role`, `admin_app_role`):
 * for tests that connect as those roles. Its exit code and what it printed.
 */
export async function applyRolesSql(
  databaseUrl: string,
  roles: Record<string, string>,
): Promise<{ code: number; output: string }> {
  const vars = Object.entries(roles).flatMap(([name, value]) => ["-v", `${name}=${value}`]);
  const child = Bun.spawn(
    [
      Bun.which("psql") ?? "psql",
      "-X",
      "-q",
      "-v",
      "ON_ERROR_STOP=1",
      ...vars,
      "-f",
      ROLES_SQL,
      databaseUrl,
    ],
    { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "" } },
  );
  const [code, stdout, stderr] = await Promise.all([
    child.exited,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  return { code, output: stdout + stderr };
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

/** Serializes the processes that find the template missing, so one of them makes it. */
const TEMPLATE_LOCK_KEY = 7_402_113_002;

let template: Promise<string> | undefined;

/**
 * Migrating costs about a second per database, copying a migrated one a tenth of that: the
 * template `propgate_tpl_<digest of the migrations>` is made once per server and migration set,
 * and kept (no connections allowed) for the next run.
 */
function migratedTemplate(adminUrl: string): Promise<string> {
  template ??= (async () => {
    const digest = new Bun.CryptoHasher("sha256");
    for (const migration of readMigrationFiles({ migrationsFolder })) digest.update(migration.hash);
    const name = `propgate_tpl_${digest.digest("hex").slice(0, 16)}`;
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
    try {
      await admin`select pg_advisory_lock(${TEMPLATE_LOCK_KEY})`;
      const [found] = await admin<{ ready: boolean }[]>`
        select datistemplate as ready from pg_database where datname = ${name}`;
      if (found?.ready) return name;
      // Left half-made by a run that was killed: made again.
      if (found) await admin.unsafe(`drop database "${name}"`);
      await admin.unsafe(`create database "${name}"`);
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      const handle = await openDatabase({ url: url.toString() });
      try {
        await migrateDatabase(handle);
      } finally {
        await handle.close();
      }
      await admin.unsafe(`alter database "${name}" with is_template true allow_connections false`);
      return name;
    } finally {
      // Ending the session releases the advisory lock.
      await admin.end({ timeout: 5 });
    }
  })();
  return template;
}

async function createPostgresDatabase(
  adminUrl: string,
  template: string | null,
): Promise<TestDatabase> {
  const name = `propgate_t_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}"${template ? ` template "${template}"` : ""}`);
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

/*
 * For the audit tests of every workspace (`verifyAuditChain`, `propgate audit verify`,
 * `admin.audit.verify`, the read timeouts): rows as an api writes them, and the tampering of
 * someone with write access to the database but not the audit key.
 */

const TEST_AUDIT: AuditContext = { sourceApp: "api", instanceId: "api-test" };

/**
 * `count` partner requests appended at the end of `chainId` (a new chain when it has none),
 * hashed and linked as a writer links them but signed by no checkpoint: a forged chain, or rows
 * added to a closed one.
 */
export async function appendUnsignedRows(db: Database, chainId: string, count: number) {
  const [end] = await db
    .select({ chainSeq: auditEvents.chainSeq, hash: auditEvents.hash })
    .from(auditEvents)
    .where(eq(auditEvents.chainId, chainId))
    .orderBy(desc(auditEvents.chainSeq))
    .limit(1);
  const head = end ? { chainId, ...end } : emptyChain(chainId);
  const content = {
    kind: "partner.request" as const,
    sourceApp: "api",
    instanceId: "api-forged",
    clientIp: null,
    requestId: null,
    userId: "usr_forged",
    actor: null,
    operation: "intercom.open" as const,
    partner: "intercom" as const,
    purpose: "intercom" as const,
    target: "door-forged",
    attempt: 0,
    result: "pending",
    errorCode: null,
    httpStatus: null,
    latencyMs: null,
    callId: null,
    reason: null,
  };
  const { rows } = chainRows(
    head,
    Array.from({ length: count }, () => content),
    new Date(),
  );
  await db.insert(auditEvents).values(rows);
}

/** The tail cut: the rows of `chainId` past `chainSeq` deleted, with the checkpoints past it. */
export async function cutChainAfter(db: Database, chainId: string, chainSeq: number) {
  await db.execute(
    sql`delete from audit_events where chain_id = ${chainId} and chain_seq > ${chainSeq}`,
  );
  await db.execute(
    sql`delete from audit_checkpoints where chain_id = ${chainId} and chain_seq > ${chainSeq}`,
  );
}

/** A stopped chain made to look cut short or crashed: its closing checkpoint deleted. */
export async function deleteClosingCheckpoint(db: Database, chainId: string) {
  await db.execute(sql`delete from audit_checkpoints where chain_id = ${chainId} and closing`);
}

/**
 * As if the resident's latest call had been `minutes` ago: the sites of their partner subjects
 * last confirmed then (access checks deny `stale_subject` past ACCESS_CHECK_SITES_MAX_AGE_SECONDS).
 */
export async function ageSubjectSites(db: Database, userId: string, minutes: number) {
  await db.execute(
    sql`update partner_subjects set updated_at = now() - make_interval(mins => ${minutes}) where user_id = ${userId}`,
  );
}

/**
 * `count` door opens of one resident, each its own batch of `writer`, as the api writes them;
 * the resident's consent is granted first unless `userId` names one who has it. Returns the id.
 */
export async function writeDoorOpens(
  db: Database,
  writer: AuditWriter,
  count: number,
  userId?: string,
): Promise<string> {
  const resident = userId ?? `usr_${crypto.randomUUID()}`;
  if (!userId) {
    const consent = { noticeVersion: 1, channel: "app", method: "in_app_checkbox" } as const;
    await grantConsent(db, { userId: resident, purpose: "intercom", ...consent }, TEST_AUDIT);
  }
  for (let attempt = 0; attempt < count; attempt++) {
    await writer.attempt(
      {
        userId: resident,
        purpose: "intercom",
        operation: "intercom.open",
        partner: "intercom",
        target: "door-test-1",
        attempt,
        callId: `call_${crypto.randomUUID()}`,
      },
      TEST_AUDIT,
    );
  }
  return resident;
}

/**
 * Another session holds `audit_events` locked (ACCESS EXCLUSIVE, as a migration may) until the
 * returned call: every read of it waits meanwhile. PostgreSQL only (`url` of a test database).
 */
export async function lockAuditEvents(url: string): Promise<() => Promise<void>> {
  const holder = await openDatabase({ url, max: 1 });
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let taken = () => {};
  const lockTaken = new Promise<void>((resolve) => {
    taken = resolve;
  });
  const holding = holder.db.transaction(async (tx) => {
    await tx.execute(sql`lock table audit_events in access exclusive mode`);
    taken();
    await released;
  });
  await Promise.race([lockTaken, holding]);
  return async () => {
    release();
    await holding;
    await holder.close();
  };
}
