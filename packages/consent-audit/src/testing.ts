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

/** `db.execute()` rows on postgres.js and PGlite alike, for tests that read any table. */
export { rowsOf } from "./database";

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

/**
 * What a test could change in a database besides its rows: tables, columns, constraints,
 * indexes, views, functions, triggers, policies, grants, owners, settings, applied migrations.
 * A database whose fingerprint is still its template's is reused after its rows are reset; any
 * other is dropped.
 */
const FINGERPRINT_SQL = `
  select md5(concat_ws('|',
    (select string_agg(concat_ws(',', n.nspname, c.relname, c.relkind, c.relowner::regrole,
        c.relacl::text, c.relrowsecurity, c.relforcerowsecurity, c.relpersistence,
        case when c.relkind in ('v', 'm') then pg_get_viewdef(c.oid) end), ';'
        order by n.nspname, c.relname)
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname not in ('pg_catalog', 'information_schema')
        and n.nspname not like 'pg\\_%'),
    (select string_agg(concat_ws(',', a.attrelid::regclass, a.attname, a.atttypid, a.attnotnull,
        pg_get_expr(d.adbin, d.adrelid), a.attacl::text), ';' order by a.attrelid::regclass::text, a.attnum)
       from pg_attribute a join pg_class c on c.oid = a.attrelid
       join pg_namespace n on n.oid = c.relnamespace
       left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where a.attnum > 0 and not a.attisdropped
        and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'),
    (select string_agg(concat_ws(',', conrelid::regclass, conname, pg_get_constraintdef(oid)), ';'
        order by conrelid::regclass::text, conname)
       from pg_constraint where connamespace not in ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)),
    (select string_agg(pg_get_indexdef(indexrelid), ';' order by indexrelid::regclass::text)
       from pg_index i join pg_class c on c.oid = i.indexrelid
      where c.relnamespace not in ('pg_catalog'::regnamespace, 'information_schema'::regnamespace, 'pg_toast'::regnamespace)),
    (select string_agg(concat_ws(',', tgrelid::regclass, tgname, tgenabled, pg_get_triggerdef(oid)), ';'
        order by tgrelid::regclass::text, tgname) from pg_trigger where not tgisinternal),
    (select string_agg(concat_ws(',', p.oid::regprocedure, md5(p.prosrc), p.proowner::regrole, p.proacl::text), ';'
        order by p.oid::regprocedure::text)
       from pg_proc p where p.pronamespace not in ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)),
    (select string_agg(concat_ws(',', nspname, nspowner::regrole, nspacl::text), ';' order by nspname)
       from pg_namespace where nspname not like 'pg\\_temp\\_%' and nspname not like 'pg\\_toast\\_temp\\_%'),
    (select string_agg(concat_ws(',', polrelid::regclass, polname, pg_get_expr(polqual, polrelid)), ';'
        order by polrelid::regclass::text, polname) from pg_policy),
    (select string_agg(defaclacl::text, ';' order by oid) from pg_default_acl),
    (select string_agg(extname || extversion, ';' order by extname) from pg_extension),
    (select string_agg(setconfig::text, ';' order by setrole)
       from pg_db_role_setting where setdatabase = (select oid from pg_database where datname = current_database())),
    (select datacl::text from pg_database where datname = current_database()),
    (select count(*) || ',' || coalesce(max(hash), '') from drizzle.__drizzle_migrations),
    (select count(*) from pg_prepared_xacts where database = current_database()),
    (select count(*) from pg_largeobject_metadata)
  )) as fingerprint`;

async function fingerprintOf(sql: postgres.Sql): Promise<string> {
  const [row] = await sql.unsafe<{ fingerprint: string }[]>(FINGERPRINT_SQL);
  if (!row) throw new Error("the fingerprint query returned no row");
  return row.fingerprint;
}

/** The tables of `public` and the rows a fresh copy of the template holds (the seeded notices). */
interface Template {
  fingerprint: string;
  tables: string[];
  sequences: string[];
  seeds: { table: string; rows: string }[];
}

let templateFacts: Promise<Template> | undefined;

/** Read once per process from the first database copied from the template, still untouched. */
function readTemplate(freshCopyUrl: string): Promise<Template> {
  templateFacts ??= (async () => {
    const sql = postgres(freshCopyUrl, { max: 1, onnotice: () => {} });
    try {
      const fingerprint = await fingerprintOf(sql);
      const tables = (
        await sql<{ name: string }[]>`
        select quote_ident(relname) as name from pg_class
         where relnamespace = 'public'::regnamespace and relkind in ('r', 'p') order by relname`
      ).map((row) => row.name);
      const sequences = (
        await sql<{ name: string }[]>`
        select quote_ident(relname) as name from pg_class
         where relnamespace = 'public'::regnamespace and relkind = 'S' order by relname`
      ).map((row) => `public.${row.name}`);
      const seeds: Template["seeds"] = [];
      for (const table of tables) {
        const [seed] = await sql.unsafe<{ rows: string | null }[]>(
          `select json_agg(t)::text as rows from public.${table} t`,
        );
        if (seed?.rows) seeds.push({ table, rows: seed.rows });
      }
      return { fingerprint, tables, sequences, seeds };
    } finally {
      await sql.end({ timeout: 5 });
    }
  })();
  return templateFacts;
}

/**
 * Copying the template costs about 0.4 s (PostgreSQL writes and syncs the whole copy); emptying
 * one a test is done with costs a few milliseconds. Each process keeps the databases its tests
 * closed, emptied back to the template's rows, and hands them to its next tests.
 */
const spares: string[] = [];

/** Names this process's databases `propgate_t_<tag>_…`, so the watcher finds every one of them. */
const PROCESS_TAG = crypto.randomUUID().replaceAll("-", "").slice(0, 8);
let watching = false;

/**
 * `bun test` ends its workers without running exit handlers, and kills the children they spawn:
 * a watcher in a session of its own (`setsid`, so it outlives the worker) waits for this process
 * to end, however it ends, then drops the databases it left, spares and any a crash left open.
 */
function dropDatabasesAtExit(adminUrl: string): void {
  if (watching) return;
  watching = true;
  const drop = String.raw`select format('drop database if exists %I with (force)', datname) from pg_database where datname like 'propgate\_t\_${PROCESS_TAG}\_%' \gexec`;
  const watcher = [
    'tail --pid="$WATCHED_PID" -f /dev/null',
    'printf "%s\n" "$DROP_SQL" | psql -X -q "$ADMIN_URL"',
  ].join("; ");
  Bun.spawn(["sh", "-c", `setsid sh -c '${watcher}' </dev/null >/dev/null 2>&1 &`], {
    stdin: "ignore",
    stdout: "ignore",
    stderr: "ignore",
    env: {
      PATH: process.env.PATH ?? "",
      WATCHED_PID: String(process.pid),
      DROP_SQL: drop,
      ADMIN_URL: adminUrl,
    },
  });
}

/** More rows than this in a closed database: dropped, not emptied and reused. */
const REUSE_MAX_ROWS = 2000;

/** Empties `name` back to the template's rows, or says it cannot be reused (false). */
async function resetToTemplate(url: string, template: Template): Promise<boolean> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    if ((await fingerprintOf(sql)) !== template.fingerprint) return false;
    // A test that wrote many rows gets no successor: the deleted rows would stay behind as dead
    // ones and slow the next test's reads until a vacuum.
    const counted = template.tables.map(
      (table) =>
        `(select count(*) from (select 1 from public.${table} limit ${REUSE_MAX_ROWS + 1}) r)`,
    );
    const [written] = await sql.unsafe<{ rows: string }[]>(`select ${counted.join(" + ")} as rows`);
    if (Number(written?.rows ?? Number.POSITIVE_INFINITY) > REUSE_MAX_ROWS) return false;
    await sql.begin(async (tx) => {
      // DELETE, not TRUNCATE (which makes new files and syncs them: ~0.1 s); with triggers off,
      // foreign keys do not order it. `session_replication_role` needs a superuser, as CREATE
      // DATABASE nearly does: without one the database is dropped instead.
      await tx.unsafe(
        [
          "set local session_replication_role = replica",
          ...template.tables.map((table) => `delete from public.${table}`),
          ...template.sequences.map((sequence) => `alter sequence ${sequence} restart`),
        ].join(";\n"),
      );
      for (const seed of template.seeds) {
        await tx.unsafe(
          `insert into public.${seed.table} select * from json_populate_recordset(null::public.${seed.table}, $1::text::json)`,
          [seed.rows],
        );
      }
    });
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function createPostgresDatabase(
  adminUrl: string,
  template: string | null,
): Promise<TestDatabase> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  const reused = template ? spares.pop() : undefined;
  const name =
    reused ?? `propgate_t_${PROCESS_TAG}_${crypto.randomUUID().replaceAll("-", "").slice(0, 8)}`;
  if (!reused) {
    dropDatabasesAtExit(adminUrl);
    try {
      await admin.unsafe(`create database "${name}"${template ? ` template "${template}"` : ""}`);
    } catch (err) {
      await admin.end({ timeout: 5 });
      throw err;
    }
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const label = describeDatabaseUrl(url.toString());
  // The first copy this process makes is read before its test touches it.
  const facts = template ? await readTemplate(url.toString()) : undefined;
  const handle = await openDatabase({ url: url.toString() });
  announce(`[db] tests run on ${label.replace(/\/([^/]+)$/, " (database $1)")}`);
  let closing: Promise<void> | undefined;
  const closeDatabase = async () => {
    try {
      await handle.close();
      await admin`select pg_terminate_backend(pid) from pg_stat_activity
                  where datname = ${name} and pid <> pg_backend_pid()`;
      if (facts && (await resetToTemplate(url.toString(), facts))) {
        spares.push(name);
        return;
      }
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
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
      closing ??= closeDatabase();
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
    traceId: null,
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

/** As if journal entry `entryId` had been recorded `days` ago (retention tests). */
export async function ageJournalEntry(db: Database, entryId: string, days: number) {
  await db.execute(
    sql`update journal_entries set recorded_at = now() - make_interval(days => ${days}) where id = ${entryId}`,
  );
}

/** As if the webhook message of journal entry `entryId` had been queued `seconds` ago, and due now. */
export async function ageWebhookMessage(db: Database, entryId: string, seconds: number) {
  await db.execute(
    sql`update webhook_outbox set created_at = now() - make_interval(secs => ${seconds}), next_attempt_at = now()
        where journal_seq = (select seq from journal_entries where id = ${entryId})`,
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
