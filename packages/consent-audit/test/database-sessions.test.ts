import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { sql } from "drizzle-orm";
import { type DatabaseHandle, openDatabase, registeredSnapshotReader } from "../src/database";
import { isStatementTimeout, recordAuditEvent, rootMessage, verifyAuditChain } from "../src/index";
import { auditEvents } from "../src/schema/index";
import { withStatementTimeout } from "../src/statement-timeout";
import { createTestDatabase, lockAuditEvents, type TestDatabase } from "../src/testing";
import { APP_AUDIT } from "./fixtures";

/*
 * Invariant 8: no admin read can take an instance down. The verify's snapshot reader never
 * waits on the pool its transaction holds a connection of; reads bounded by a statement timeout
 * are cancelled past it; a transaction left idle is ended by the server.
 */

setDefaultTimeout(30_000);

const opened: DatabaseHandle[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((handle) => handle.close()));
});

const onPostgres = process.env.DATABASE_URL !== undefined;
if (!onPostgres) {
  console.log(
    "[skip] pool, statement and idle-transaction bounds: need PostgreSQL (set DATABASE_URL); PGlite is one backend without them",
  );
}

/** `promise`, or a failure naming what did not finish within `ms` (a wedged pool never does). */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

async function testDatabase(): Promise<TestDatabase & { url: string }> {
  const handle = await createTestDatabase();
  opened.push(handle);
  if (!handle.url) throw new Error("a PostgreSQL test database has a url");
  return { ...handle, url: handle.url };
}

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the statement to fail");
}

const show = async (handle: DatabaseHandle, setting: string) => {
  const rows = (await handle.db.execute(sql.raw(`show ${setting}`))) as unknown as Record<
    string,
    string
  >[];
  return rows[0]?.[setting];
};

describe.if(onPostgres)("database sessions on PostgreSQL (invariant 8)", () => {
  test("every session has an idle_in_transaction_session_timeout: 60 s unless told", async () => {
    const database = await testDatabase();
    expect(await show(database, "idle_in_transaction_session_timeout")).toBe("1min");
    const tuned = await openDatabase({ url: database.url, idleInTransactionTimeoutMs: 250 });
    opened.push(tuned);
    expect(await show(tuned, "idle_in_transaction_session_timeout")).toBe("250ms");
    // The snapshot reader's own connection too.
    const reader = registeredSnapshotReader(tuned.db);
    if (!reader) throw new Error("PostgreSQL registers a snapshot reader");
    const [row] = await tuned.db.transaction(
      async (tx) => {
        const exported = (await tx.execute(
          sql`select pg_catalog.pg_export_snapshot() as snapshot`,
        )) as unknown as { snapshot: string }[];
        return reader<{ idle: string }>(
          exported[0]?.snapshot ?? "",
          [],
          "select pg_catalog.current_setting('idle_in_transaction_session_timeout') as idle",
        );
      },
      { isolationLevel: "repeatable read", accessMode: "read only" },
    );
    expect(row?.idle).toBe("250ms");
  });

  test("a transaction left idle is ended by the server, and the pool goes on", async () => {
    const database = await testDatabase();
    const tuned = await openDatabase({ url: database.url, idleInTransactionTimeoutMs: 250 });
    opened.push(tuned);
    const failure = await failureOf(
      tuned.db.transaction(async (tx) => {
        const [me] = (await tx.execute(
          sql`select pg_catalog.pg_backend_pid() as pid`,
        )) as unknown as { pid: number }[];
        // Idle in the transaction until the server has ended this session (another connection looks).
        const deadline = Date.now() + 10_000;
        for (;;) {
          const [seen] = (await database.db.execute(
            sql`select count(*)::int as n from pg_catalog.pg_stat_activity where pid = ${me?.pid}`,
          )) as unknown as { n: number }[];
          if (seen?.n === 0) break;
          if (Date.now() > deadline) throw new Error("the idle transaction was never ended");
          await Bun.sleep(50); // polling another session's state, with a deadline
        }
        await tx.execute(sql`select 1`);
      }),
    );
    expect(String(failure)).not.toContain("never ended");
    expect(await tuned.db.execute(sql`select 1 as one`)).toEqual([{ one: 1 }]);
  });

  test("a transaction whose backend dies: its statements fail, none crashes the process or runs outside it", async () => {
    // postgres.js 3.4.9 threw from an immediate on a closed socket (an uncaught TypeError that
    // ends the process), and could run the dead transaction's statements on the connection it
    // reopened for the pool; patches/postgres@3.4.9.patch settles both (porsager/postgres#1208,
    // #1155).
    const database = await testDatabase();
    const handle = await openDatabase({ url: database.url, max: 1 });
    opened.push(handle);
    let ended: (value: unknown) => void = () => {};
    const transactionEnded = new Promise((resolve) => {
      ended = resolve;
    });
    let body: Promise<void> = Promise.resolve();
    const transaction = handle.db.transaction((tx) => {
      body = (async () => {
        const [me] = (await tx.execute(
          sql`select pg_catalog.pg_backend_pid() as pid`,
        )) as unknown as { pid: number }[];
        await database.db.execute(sql`select pg_catalog.pg_terminate_backend(${me?.pid})`);
        // The transaction has failed for its caller; the callback still holds its handle.
        await transactionEnded;
        // The pool reopens its one connection for someone else meanwhile.
        expect(await handle.db.execute(sql`select 1 as one`)).toEqual([{ one: 1 }]);
        await tx.insert(auditEvents).values({
          id: "evt_outside_its_transaction0",
          kind: "partner.event",
          result: "ok",
          sourceApp: "test",
          instanceId: "test",
          chainId: "test/outside",
          prevHash: "0".repeat(64),
          hash: "1".repeat(64),
        } as typeof auditEvents.$inferInsert);
      })();
      return body;
    });
    const failure = await within(10_000, "the killed transaction", failureOf(transaction));
    ended(failure);
    expect(String(failure)).toMatch(/CONNECTION_CLOSED|terminating connection/);
    // The callback runs on: its insert is refused, not written outside the transaction.
    const refused = await within(10_000, "the dead transaction's insert", failureOf(body));
    expect(rootMessage(refused)).toContain("CONNECTION_CLOSED");
    const [left] = (await within(
      10_000,
      "the pool after the loss",
      handle.db.execute(
        sql`select count(*)::int as n from audit_events where chain_id = 'test/outside'`,
      ),
    )) as unknown as { n: number }[];
    expect(left?.n).toBe(0);
  });

  test("verifies never wait on their own pool: six at once on a pool of two all finish", async () => {
    const database = await testDatabase();
    for (let i = 0; i < 20; i++)
      await recordAuditEvent(database.db, { ...APP_AUDIT, kind: "partner.event", result: "ok" });
    const small = await openDatabase({ url: database.url, max: 2 });
    opened.push(small);
    const verdicts = await within(
      15_000,
      "six concurrent verifies on a pool of two",
      Promise.all(Array.from({ length: 6 }, () => verifyAuditChain(small.db))),
    );
    expect(verdicts).toEqual(Array.from({ length: 6 }, () => ({ ok: true, count: 20 })));
  });

  test("a read past its statement timeout is cancelled (a lock wait counts); the setting stays in its transaction", async () => {
    const database = await testDatabase();
    const unlock = await lockAuditEvents(database.url);
    try {
      const failure = await within(
        10_000,
        "a read held by a lock",
        failureOf(
          withStatementTimeout(database, 200, ({ db }) => db.select().from(auditEvents).limit(1)),
        ),
      );
      expect(isStatementTimeout(failure)).toBe(true);
    } finally {
      await unlock();
    }
    expect(await withStatementTimeout(database, 200, ({ db }) => db.$count(auditEvents))).toBe(0);
    const settings = await Promise.all(
      Array.from({ length: 10 }, () => show(database, "statement_timeout")),
    );
    expect(settings).toEqual(Array.from({ length: 10 }, () => "0"));
  });

  test("verifyAuditChain's statementTimeoutMs bounds its transaction and its reader", async () => {
    const database = await testDatabase();
    await recordAuditEvent(database.db, { ...APP_AUDIT, kind: "partner.event", result: "ok" });
    const unlock = await lockAuditEvents(database.url);
    try {
      const failure = await within(
        10_000,
        "a verify held by a lock",
        failureOf(verifyAuditChain(database.db, { statementTimeoutMs: 200 })),
      );
      expect(isStatementTimeout(failure)).toBe(true);
    } finally {
      await unlock();
    }
    expect(await verifyAuditChain(database.db, { statementTimeoutMs: 5000 })).toEqual({
      ok: true,
      count: 1,
    });
  });
});
