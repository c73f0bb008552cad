import { mkdirSync } from "node:fs";
import type { PGlite } from "@electric-sql/pglite";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import type { PgliteDatabase } from "drizzle-orm/pglite";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { postgresConnection } from "./database-tls";
import * as schema from "./schema/index";

/** One type for both drivers; a transaction (`tx`) is also a `Database`. */
export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;

/** The rows of `db.execute()`: postgres.js answers them as an array, PGlite as `{ rows }`. */
export function rowsOf<R = Record<string, unknown>>(result: unknown): R[] {
  return (Array.isArray(result) ? result : (result as { rows: R[] }).rows) as R[];
}

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
  /**
   * PEM of the CA that signed the server's certificate (DATABASE_CA_FILE), checked with
   * `sslmode=verify-full` / `verify-ca` in `url` (see `postgresConnection`).
   */
  ca?: string;
  /** The role's password (DATABASE_PASSWORD_FILE) when `url` carries none. */
  password?: string;
  /** postgres.js pool size (default 10). */
  max?: number;
  /**
   * `idle_in_transaction_session_timeout` of every session (default 60 s; 0 turns it off): a
   * transaction left open while its client waits on something else is ended by the server, and
   * its connection and locks with it. None of ours waits outside the database that long.
   */
  idleInTransactionTimeoutMs?: number;
}

/** The default `idleInTransactionTimeoutMs`. */
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000;

/** What `migrateDatabase` needs per driver; kept out of the public handle. */
export type MigrationTarget =
  | { kind: "postgres"; url: string; ca?: string; password?: string }
  | { kind: "pglite"; db: PgliteDatabase<typeof schema> };

const migrationTargets = new WeakMap<Database, MigrationTarget>();

export function registeredMigrator(db: Database): MigrationTarget | undefined {
  return migrationTargets.get(db);
}

/**
 * Subscribes to a NOTIFY channel on the handle's own connection(s). Resolves once LISTEN is in
 * place, with a function that unsubscribes; `onReconnect` runs each time a lost listening
 * connection is re-established (notifications sent meanwhile are lost). Kept out of the public handle.
 */
export type ChannelListener = (
  channel: string,
  onNotify: (payload: string) => void,
  onReconnect: () => void,
) => Promise<() => Promise<void>>;

const channelListeners = new WeakMap<Database, ChannelListener>();

/**
 * One parameterised statement straight to the driver, without the query builder, for the few
 * statements on a request's hot path (the audit writer's batch insert). Autocommit: never use
 * it for a statement that must share a transaction. Kept out of the public handle.
 */
export type RawQuery = <R extends Record<string, unknown>>(
  text: string,
  params: readonly (string | number | null)[],
) => Promise<R[]>;

const rawQueries = new WeakMap<Database, RawQuery>();

export function registeredRawQuery(db: Database): RawQuery | undefined {
  return rawQueries.get(db);
}

/**
 * Runs read-only statements on a second connection, in a repeatable-read transaction that
 * shares an exported snapshot (`pg_export_snapshot()` of a transaction that stays open
 * meanwhile), so two parts of one consistent read run at once. The connection is of a pool of
 * its own (one connection, closed when idle), never of the pool the exporting transaction holds
 * one of: readers waiting on that pool would take it whole once enough transactions held a
 * connection each, and wait for ever. PostgreSQL only; PGlite is one backend. Kept out of the
 * public handle.
 */
export type SnapshotReader = <R extends Record<string, unknown>>(
  snapshot: string,
  setup: readonly string[],
  text: string,
) => Promise<R[]>;

const snapshotReaders = new WeakMap<Database, SnapshotReader>();

export function registeredSnapshotReader(db: Database): SnapshotReader | undefined {
  return snapshotReaders.get(db);
}

export function registeredListener(db: Database): ChannelListener | undefined {
  return channelListeners.get(db);
}

const transactionRoots = new WeakMap<Database, Database>();

/**
 * The database handle's `db` a transaction was begun on (`db` itself when it is none), so code
 * given a `tx` finds what is registered for its database (the process chain's signer).
 */
export function rootDatabase(db: Database): Database {
  return transactionRoots.get(db) ?? db;
}

/** Each transaction begun on `db`, savepoints included, remembers `root`. */
function trackTransactions(db: Database, root: Database = db): void {
  const begin = db.transaction.bind(db);
  db.transaction = ((run, config) =>
    begin((tx) => {
      transactionRoots.set(tx, root);
      trackTransactions(tx, root);
      return run(tx);
    }, config)) as Database["transaction"];
}

interface ChannelSubscriber {
  onNotify(payload: string): void;
  onReconnect(): void;
}

/**
 * postgres.js keeps one LISTEN connection per pool and re-listens after it is lost, calling
 * `onlisten` again. Its `unlisten()` no longer matches after such a reconnect, so we listen
 * once per channel and fan out ourselves; the LISTEN stays until the pool ends.
 */
function postgresListener(client: postgres.Sql): ChannelListener {
  const hubs = new Map<string, Promise<Set<ChannelSubscriber>>>();
  const hubFor = (channel: string): Promise<Set<ChannelSubscriber>> => {
    const existing = hubs.get(channel);
    if (existing) return existing;
    const subscribers = new Set<ChannelSubscriber>();
    let connects = 0;
    const hub = client
      .listen(
        channel,
        (payload) => {
          for (const subscriber of subscribers) subscriber.onNotify(payload);
        },
        () => {
          connects++;
          if (connects === 1) return;
          for (const subscriber of subscribers) subscriber.onReconnect();
        },
      )
      .then(() => subscribers);
    hubs.set(channel, hub);
    hub.catch(() => hubs.delete(channel));
    return hub;
  };
  return async (channel, onNotify, onReconnect) => {
    const subscribers = await hubFor(channel);
    const subscriber: ChannelSubscriber = { onNotify, onReconnect };
    subscribers.add(subscriber);
    return async () => {
      subscribers.delete(subscriber);
    };
  };
}

function postgresSnapshotReader(client: postgres.Sql): SnapshotReader {
  return async <R extends Record<string, unknown>>(
    snapshot: string,
    setup: readonly string[],
    text: string,
  ) => {
    if (!/^[0-9A-F]+-[0-9A-F]+-[0-9]+$/.test(snapshot)) throw new Error("not a snapshot id");
    const rows = await client.begin("isolation level repeatable read read only", async (tx) => {
      await tx.unsafe(`set transaction snapshot '${snapshot}'`);
      for (const statement of setup) await tx.unsafe(statement);
      return tx.unsafe(text);
    });
    return rows as unknown as R[];
  };
}

/** PGlite is one in-process backend: notifications are local and it never reconnects. */
function pgliteListener(client: PGlite): ChannelListener {
  return async (channel, onNotify) => {
    const unsubscribe = await client.listen(channel, onNotify);
    return async () => {
      if (!client.closed) await unsubscribe();
    };
  };
}

export async function openDatabase(opts: OpenDatabaseOptions): Promise<DatabaseHandle> {
  if (opts.url !== undefined) {
    const connection = postgresConnection(opts.url, opts.ca, opts.password);
    const options = {
      ...connection.options,
      // Server NOTICEs (e.g. "schema already exists, skipping") are not worth a log line.
      onnotice: () => {},
      // A database that is down fails a query within 5 s instead of postgres.js's 30, and one
      // that is back is reconnected to within a second (its default backoff reaches 20 s).
      connect_timeout: 5,
      backoff: (retries: number) => (0.5 + Math.random() / 2) * Math.min(0.05 * 2 ** retries, 1),
      connection: {
        idle_in_transaction_session_timeout:
          opts.idleInTransactionTimeoutMs ?? IDLE_IN_TRANSACTION_TIMEOUT_MS,
      },
    };
    const client = postgres(connection.url, { ...options, max: opts.max ?? 10 });
    // The snapshot reader's pool: one connection, opened on first use, closed after 30 s idle.
    const readerClient = postgres(connection.url, { ...options, max: 1, idle_timeout: 30 });
    const db: Database = drizzlePostgres({ client, schema, casing: "snake_case" });
    trackTransactions(db);
    migrationTargets.set(db, {
      kind: "postgres",
      url: opts.url,
      ca: opts.ca,
      password: opts.password,
    });
    channelListeners.set(db, postgresListener(client));
    rawQueries.set(
      db,
      async <R extends Record<string, unknown>>(
        text: string,
        params: readonly (string | number | null)[],
      ) => {
        // Prepared once per connection (the text is fixed), so later runs skip parse and plan.
        const rows = await client.unsafe(text, params as (string | number | null)[], {
          prepare: true,
        });
        return rows as unknown as R[];
      },
    );
    snapshotReaders.set(db, postgresSnapshotReader(readerClient));
    return {
      db,
      kind: "postgres",
      close: async () => {
        await Promise.all([client.end({ timeout: 5 }), readerClient.end({ timeout: 5 })]);
      },
    };
  }
  // A compiled binary (the image) carries none of PGlite's wasm and data files.
  if (Bun.isStandaloneExecutable)
    throw new Error("the embedded PGlite runs from source only: set DATABASE_URL (PostgreSQL)");
  if (opts.dataDir !== undefined) mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  // Loaded only here: a program on PostgreSQL carries none of PGlite.
  const { PGlite } = await import("@electric-sql/pglite");
  const client = opts.dataDir === undefined ? new PGlite() : new PGlite(opts.dataDir);
  return wrapPglite(client);
}

/** A program's database settings, as its env loader returns them (`databaseSettings` of config). */
export interface ConfiguredDatabase {
  DATABASE_URL?: string | null;
  databaseCa?: string;
  databasePassword?: string;
}

/**
 * The database a program's settings name: PostgreSQL at DATABASE_URL with its CA and password,
 * else PGlite in `dataDir` (in memory when undefined).
 */
export function openConfiguredDatabase(
  env: ConfiguredDatabase,
  dataDir: string | undefined,
): Promise<DatabaseHandle> {
  return openDatabase(
    env.DATABASE_URL
      ? { url: env.DATABASE_URL, ca: env.databaseCa, password: env.databasePassword }
      : { dataDir },
  );
}

/** A handle over an existing PGlite instance (the test helper loads instances from a template). */
export async function wrapPglite(client: PGlite): Promise<DatabaseHandle> {
  await client.waitReady;
  const { drizzle: drizzlePglite } = await import("drizzle-orm/pglite");
  const pglite = drizzlePglite({ client, schema, casing: "snake_case" });
  const db: Database = pglite;
  trackTransactions(db);
  migrationTargets.set(db, { kind: "pglite", db: pglite });
  channelListeners.set(db, pgliteListener(client));
  rawQueries.set(
    db,
    async <R extends Record<string, unknown>>(
      text: string,
      params: readonly (string | number | null)[],
    ) => (await client.query<R>(text, [...params])).rows,
  );
  return { db, kind: "pglite", close: () => client.close() };
}
